/**
 * The outbox never lets one command poison a client. The store fault here is a stub — a write
 * that throws is a fault the tests cannot cause for real on a working LevelDB — and the rest is
 * the real outbox and the real command parser.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ImError } from '../../../shared/errors.js'
import type { ServerEvent } from '../../../shared/protocol.js'
import { createCommandParser } from '../../../broker/im/commands.js'
import type { EventPublisher } from '../../../broker/im/events.js'
import type { MessageService } from '../../../broker/im/messages.js'
import { Outbox } from '../../../broker/im/outbox.js'
import type { ReceiptService } from '../../../broker/im/receipts.js'
import { createLogger } from '../../../broker/ops/logger.js'
import type { SupportDesk } from '../../../broker/support/desk.js'

function outbox (send: (cmid: string) => Promise<void>, admit?: (uid: string) => void, receipts = {} as ReceiptService) {
  const inbox: ServerEvent[] = []
  const outcomes: string[] = []
  const events = { toInbox: async (_uid: string, event: ServerEvent) => { inbox.push(event) } } as unknown as EventPublisher
  const box = new Outbox({
    parse: createCommandParser({ commandMaxBytes: 65_536, commandMaxDepth: 8, messageMaxChars: 100 }),
    messages: {
      begin: async (_caller: unknown, command: { cmid: string }) => {
        const done = send(command.cmid)
        done.catch(() => undefined)
        return { done }
      }
    } as unknown as MessageService,
    receipts,
    desk: {} as SupportDesk,
    events,
    log: createLogger('silent'),
    ...(admit ? { admit } : {}),
    onCommand: (op, outcome) => outcomes.push(`${op}:${outcome}`)
  })
  return { box, inbox, outcomes }
}

const caller = { uid: 'alice', role: 'user' as const }
const sendCommand = (cmid: string, body: unknown = { text: 'hi' }, type = 'text') => Buffer.from(JSON.stringify({ op: 'send', cmid, cid: 'd_1', type, body }))

describe('outbox', () => {
  it('withholds the PUBACK on the first unexpected failure and acknowledges the second with an error event [IM-ACK-2]', async () => {
    const { box, inbox, outcomes } = outbox(async () => { throw new Error('store write failed') })
    await assert.rejects(box.handle(caller, sendCommand('m-1')), /store write failed/)
    await box.handle(caller, sendCommand('m-1')) // resolves: acknowledged
    assert.deepEqual(inbox.map((e) => e.ev === 'error' && [e.code, e.cmid]), [['IM_ERR_INTERNAL', 'm-1'], ['IM_ERR_INTERNAL', 'm-1']])
    assert.deepEqual(outcomes, ['send:internal', 'send:internal'])
    // another command gets its own first chance
    await assert.rejects(box.handle(caller, sendCommand('m-2')), /store write failed/)
  })

  it('refuses new commands unacknowledged once it drains for a shutdown, and waits for those under way', async () => {
    let release: () => void = () => {}
    const stored: string[] = []
    const { box, inbox } = outbox(async (cmid) => { await new Promise<void>((resolve) => { release = resolve }); stored.push(cmid) })
    const first = box.handle(caller, sendCommand('m-under-way'))
    await new Promise((resolve) => setImmediate(resolve))
    let drained = false
    const draining = box.drain().then(() => { drained = true })
    await assert.rejects(box.handle(caller, sendCommand('m-late')), (err: ImError) => err.code === 'IM_ERR_INTERNAL' && /shutting down/.test(err.message))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(drained, false, 'the command under way is waited for')
    release()
    await first
    await draining
    assert.deepEqual(stored, ['m-under-way'], 'the late command was not run: its client sends it again elsewhere')
    assert.deepEqual(inbox, [], 'and it got no error event: nothing happened to it')
  })

  it('lets a command that failed once go through when the fault has passed', async () => {
    let broken = true
    const stored: string[] = []
    const { box } = outbox(async (cmid) => { if (broken) throw new Error('store away'); stored.push(cmid) })
    await assert.rejects(box.handle(caller, sendCommand('m-3')))
    broken = false
    await box.handle(caller, sendCommand('m-3'))
    assert.deepEqual(stored, ['m-3'])
    broken = true
    await assert.rejects(box.handle(caller, sendCommand('m-3')), 'a success forgot the earlier failure')
  })

  it('refuses a deeply nested custom body at validation: an error event, acknowledged, nothing sent', async () => {
    const sent: string[] = []
    const { box, inbox } = outbox(async (cmid) => { sent.push(cmid) })
    const deep = `${'['.repeat(10_000)}1${']'.repeat(10_000)}` // 20 KB, 10,000 levels
    await box.handle(caller, Buffer.from(`{"op":"send","cmid":"deep-1","cid":"d_1","type":"custom","body":{"kind":"x","data":${deep}}}`))
    const tricky = sendCommand('shallow', { kind: 'x', data: { text: '[[[[[[[[[[[[[[[[[[[[[["' } }, 'custom') // brackets in a string do not count
    await box.handle(caller, tricky)
    assert.deepEqual(inbox.map((e) => e.ev === 'error' && [e.code, e.cmid]), [['IM_ERR_BAD_REQUEST', 'deep-1']])
    assert.deepEqual(sent, ['shallow'])
  })

  it('answers a command over the rate with IM_ERR_RATE_LIMITED and does not run it', async () => {
    const sent: string[] = []
    const { box, inbox } = outbox(async (cmid) => { sent.push(cmid) }, () => { throw new ImError('IM_ERR_RATE_LIMITED') })
    await box.handle(caller, sendCommand('fast'))
    assert.deepEqual(sent, [])
    assert.deepEqual(inbox.map((e) => e.ev === 'error' && [e.code, e.cmid]), [['IM_ERR_RATE_LIMITED', 'fast']])
  })

  it('lets sends overlap but finishes every command in arrival order; a non-send waits for the sends before it', async () => {
    const writes = new Map<string, () => void>()
    const started: string[] = []
    const finished: string[] = []
    const receipts = { read: async () => { started.push('read') } } as unknown as ReceiptService
    const { box } = outbox(async (cmid) => {
      started.push(cmid)
      await new Promise<void>((resolve) => writes.set(cmid, resolve))
    }, undefined, receipts)
    const handled = [
      box.handle(caller, sendCommand('s-1')).then(() => finished.push('s-1')),
      box.handle(caller, sendCommand('s-2')).then(() => finished.push('s-2')),
      box.handle(caller, Buffer.from(JSON.stringify({ op: 'read', cid: 'd_1', seq: 1 }))).then(() => finished.push('read'))
    ]
    while (writes.size < 2) await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(started, ['s-1', 's-2'], 'the second send started while the first one was still being written')
    writes.get('s-2')!()
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(finished, [], 's-2 is not finished (acknowledged) before s-1')
    assert.deepEqual(started, ['s-1', 's-2'], 'the read waits for the sends before it')
    writes.get('s-1')!()
    await Promise.all(handled)
    assert.deepEqual(finished, ['s-1', 's-2', 'read'])
    assert.deepEqual(started, ['s-1', 's-2', 'read'])
  })
})
