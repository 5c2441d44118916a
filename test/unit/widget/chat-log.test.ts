/**
 * The widget's message log: each stored message once whatever way it came (live, sync, history),
 * own sends from sending to sent to read or failed, recalls, and the unread count.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Message } from '../../../shared/protocol.js'
import { ChatLog } from '../../../widget/engine/chat-log.js'

const ME = 'v_me'
const AGENT = 'agent1'
let nextId = 0
const msg = (seq: number, from: string, text: string, extra: Partial<Message> = {}): Message => ({
  id: `m${++nextId}`, cid: 's_1', seq, from, ts: 1_800_000_000_000 + seq, type: 'text', body: { text }, cmid: `c${seq}-${from}`, ...extra
})

describe('the widget message log', () => {
  it('keeps each stored message once, in seq order, whichever way it arrives', () => {
    const log = new ChatLog(ME)
    const second = msg(2, AGENT, 'two')
    assert.equal(log.merge(second), true)
    assert.equal(log.merge(msg(1, ME, 'one')), true)
    assert.equal(log.merge({ ...second }), false, 'the same seq again is not new')
    assert.deepEqual(log.items().map((i) => i.text), ['one', 'two'])
    assert.equal(log.maxSeq, 2)
    assert.equal(log.lastIncomingSeq, 2)
  })

  it('shows an own send as sending until its echo, then sent, then read when the agent read that far', () => {
    const log = new ChatLog(ME)
    log.addPending({ cmid: 'k1', text: 'hello', ts: 1 })
    assert.deepEqual(log.items().map((i) => [i.text, i.state]), [['hello', 'sending']])
    log.merge(msg(1, ME, 'hello', { cmid: 'k1' }))
    assert.deepEqual(log.items().map((i) => [i.text, i.state]), [['hello', 'sent']], 'the echo replaces the pending entry')
    assert.equal(log.pending().length, 0)
    assert.equal(log.read(AGENT, 1), true)
    assert.deepEqual(log.items().map((i) => i.state), ['read'])
    assert.equal(log.read(AGENT, 1), false, 'reading backwards or again changes nothing')
  })

  it('does not take back a send whose echo came before it was added (e.g. after a reload)', () => {
    const log = new ChatLog(ME)
    log.merge(msg(1, ME, 'hello', { cmid: 'k1' }))
    log.addPending({ cmid: 'k1', text: 'hello', ts: 1 })
    assert.equal(log.pending().length, 0)
    assert.equal(log.items().length, 1)
  })

  it('marks a failed send with its error, and a retry makes it sending again', () => {
    const log = new ChatLog(ME)
    log.addPending({ cmid: 'k1', text: 'too long', ts: 1 })
    log.addPending({ cmid: 'k2', text: 'next', ts: 2 })
    log.fail('k1', 'IM_ERR_PAYLOAD_TOO_LARGE')
    assert.deepEqual(log.items().map((i) => [i.text, i.state, i.error]), [
      ['too long', 'failed', 'IM_ERR_PAYLOAD_TOO_LARGE'], ['next', 'sending', undefined]
    ])
    assert.equal(log.retry('k1')?.failed, undefined)
    assert.equal(log.items()[0]?.state, 'sending')
    assert.equal(log.retry('nope'), undefined)
  })

  it('shows a recalled message as recalled, also when an older copy arrives later', () => {
    const log = new ChatLog(ME)
    const m = msg(1, AGENT, 'oops')
    log.merge(m)
    assert.equal(log.recall(m.id, 5), true)
    log.merge(m)
    const [item] = log.items()
    assert.equal(item?.recalled, true)
    assert.equal(item?.text, undefined)
  })

  it('takes a message as its sender having read up to it, as the server does', () => {
    const log = new ChatLog(ME)
    log.merge(msg(1, ME, 'question'))
    assert.deepEqual(log.items().map((i) => i.state), ['sent'])
    log.merge(msg(2, AGENT, 'answer'))
    assert.deepEqual(log.items().filter((i) => i.mine).map((i) => i.state), ['read'], 'the agent replied after it')
    log.merge(msg(3, AGENT, 'more'))
    assert.equal(log.unread(), 2)
    log.merge(msg(4, ME, 'thanks'))
    assert.equal(log.unread(), 0, 'writing after them reads them')
    assert.equal(log.myReadSeq, 4)
  })

  it('counts as unread the messages of others after the own read position', () => {
    const log = new ChatLog(ME)
    log.merge(msg(1, AGENT, 'a'))
    log.merge(msg(2, AGENT, 'b'))
    log.merge(msg(3, AGENT, 'c'))
    assert.equal(log.unread(), 3)
    log.read(ME, 1)
    assert.equal(log.unread(), 2)
    log.read(ME, 3)
    assert.equal(log.unread(), 0)
    assert.equal(log.myReadSeq, 3)
  })
})
