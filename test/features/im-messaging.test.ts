import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Message } from '../../shared/protocol.js'
import { topics } from '../../shared/topics.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, type Principal } from '../helpers/http.js'
import { createConversation, join, type Participant } from '../helpers/im.js'
import { Hold, holdingAppends } from '../helpers/intercept.js'
import { sleep, waitFor } from '../helpers/mqtt.js'

/**
 * How long a held store write is kept before it is let go: time enough for a PUBACK that did not
 * wait for it to arrive first. A correct broker never sends it in that window, however long.
 */
const EARLY_PUBACK_WINDOW_MS = 300

describe('IM messaging', () => {
  let broker: TestBroker
  let alice: Principal
  let bob: Principal
  let carol: Principal
  let mallory: Principal
  const open: Participant[] = []
  /** store writes held by cmid, for the test of store-before-PUBACK */
  const heldWrites = new Map<string, Hold>()
  const participant = async (p: Principal, clientId?: string): Promise<Participant> => {
    const joined = await join(broker.mqttUrl, p, clientId)
    open.push(joined)
    return joined
  }

  before(async () => {
    broker = await startTestBroker({ RECALL_WINDOW_SECONDS: 2, MESSAGE_MAX_CHARS: 100, COMMAND_MAX_BYTES: 2048 }, undefined, {
      messages: holdingAppends((message) => heldWrites.get(message.cmid))
    })
    const admin = await adminToken(broker.httpUrl)
    ;[alice, bob, carol, mallory] = await Promise.all(['alice', 'bob', 'carol', 'mallory'].map(async (uid) => await createUser(broker.httpUrl, admin, uid)))
  })
  after(async () => {
    await Promise.all(open.map(async (p) => { await p.close() }))
    await broker.stop()
  })

  it('delivers a message to every member and echoes it to the sender with its cmid, after storing it', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'direct', ['bob'])
    const a = await participant(alice)
    const a2 = await participant(alice, 'alice-phone')
    const b = await participant(bob)
    // The store write is held: the PUBACK must wait for it, however long it takes. [IM-ACK-1]
    const write = new Hold()
    heldWrites.set('hello-1', write)
    const order: string[] = []
    void write.passed.then(() => order.push('stored'))
    const acked = a.command({ op: 'send', cmid: 'hello-1', cid, type: 'text', body: { text: 'Hi Bob' } }).then(() => order.push('PUBACK'))
    await write.reached
    await Promise.race([acked, sleep(EARLY_PUBACK_WINDOW_MS)])
    assert.deepEqual(order, [], 'no PUBACK while the message is not stored')
    write.release()
    await acked
    assert.deepEqual(order, ['stored', 'PUBACK'])
    // The PUBACK has come back: the message is in history already.
    const history = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=0`, undefined, bob.token)
    assert.equal(history.body.messages.length, 1)
    const stored = history.body.messages[0] as Message
    assert.equal(stored.seq, 1)
    assert.equal(stored.from, 'alice')
    const echo = await a.next('msg', (e) => e.msg.cmid === 'hello-1')
    const other = await a2.next('msg', (e) => e.msg.cmid === 'hello-1')
    const got = await b.next('msg', (e) => e.msg.cid === cid)
    for (const e of [echo, other, got]) assert.deepEqual(e.msg, stored)
  })

  it('returns the original message for a repeated cmid and creates nothing new', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'direct', ['carol'])
    const a = await participant(alice)
    await a.command({ op: 'send', cmid: 'once', cid, type: 'text', body: { text: 'first' } })
    await a.command({ op: 'send', cmid: 'once', cid, type: 'text', body: { text: 'retry' } })
    const echoes = await waitFor(() => {
      const got = a.events.filter((e) => e.ev === 'msg' && e.msg.cmid === 'once')
      return got.length >= 2 && got
    }, 5000, 'an echo for each send')
    assert.equal(echoes.length, 2)
    assert.deepEqual(echoes[0], echoes[1])
    const history = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=0`, undefined, alice.token)
    assert.deepEqual(history.body.messages.map((m: Message) => [m.seq, (m.body as { text: string }).text]), [[1, 'first']])
  })

  it('keeps a non-member out over MQTT and HTTP', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'direct', ['bob'])
    const m = await participant(mallory)
    await m.command({ op: 'send', cmid: 'sneak', cid, type: 'text', body: { text: 'hi' } })
    const error = await m.next('error', (e) => e.cmid === 'sneak')
    assert.equal(error.code, 'IM_ERR_NOT_MEMBER')
    assert.equal(error.op, 'send')
    for (const path of [`/api/v1/conversations/${cid}/messages?after=0`, `/api/v1/conversations/${cid}`]) {
      const res = await api(broker.httpUrl, 'GET', path, undefined, mallory.token)
      assert.equal(res.status, 403)
      assert.equal(res.body.error.code, 'IM_ERR_NOT_MEMBER')
    }
    const missing = await api(broker.httpUrl, 'GET', '/api/v1/conversations/nope/messages', undefined, mallory.token)
    assert.equal(missing.body.error.code, 'IM_ERR_NOT_FOUND')
    assert.ok(m.client.connected)
  })

  it('answers bad commands with error events and keeps the connection', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'direct', ['bob'])
    const a = await participant(alice)
    const cases: Array<[string | Buffer, string]> = [
      ['not json', 'IM_ERR_INVALID_JSON'],
      ['[1,2]', 'IM_ERR_BAD_REQUEST'],
      [JSON.stringify({ op: 'dance', cid }), 'IM_ERR_UNKNOWN_OP'],
      [JSON.stringify({ op: 'send', cmid: 'x1', cid, type: 'text' }), 'IM_ERR_BAD_REQUEST'],
      [JSON.stringify({ op: 'send', cmid: 'x2', cid, type: 'text', body: { text: 42 } }), 'IM_ERR_BAD_REQUEST'],
      [JSON.stringify({ op: 'send', cmid: 'x3', cid, type: 'text', body: { text: 'y'.repeat(101) } }), 'IM_ERR_BAD_REQUEST'],
      [JSON.stringify({ op: 'send', cmid: 'x4', cid, type: 'text', from: 'bob', body: { text: 'forged' } }), 'IM_ERR_FORGED_SENDER'],
      [JSON.stringify({ op: 'send', cmid: 'x5', cid, type: 'text', body: { text: 'z'.repeat(3000) } }), 'IM_ERR_PAYLOAD_TOO_LARGE'],
      // nested deeper than COMMAND_MAX_DEPTH (32): refused at validation, acknowledged, nothing queued behind it stuck
      [`{"op":"send","cmid":"x6","cid":"${cid}","type":"custom","body":{"kind":"k","data":${'['.repeat(500)}${']'.repeat(500)}}}`, 'IM_ERR_BAD_REQUEST']
    ]
    for (const [payload, code] of cases) {
      const before = a.events.length
      await a.client.publishAsync(`im/u/alice/out`, payload, { qos: 1 })
      const error = await a.next('error', (e) => a.events.indexOf(e) >= before)
      assert.equal(error.code, code, `for ${String(payload).slice(0, 60)}`)
    }
    const forged = a.events.find((e) => e.ev === 'error' && e.cmid === 'x4')
    assert.ok(forged, 'the error names the cmid it answers')
    await a.command({ op: 'send', cmid: 'after-errors', cid, type: 'text', body: { text: 'still here' } })
    await a.next('msg', (e) => e.msg.cmid === 'after-errors')
    const history = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=0`, undefined, alice.token)
    assert.ok(history.body.messages.every((m: Message) => m.from === 'alice'))
  })

  it('carries out a command published retained, and keeps nothing retained on the outbox', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'direct', ['bob'])
    const a = await participant(alice)
    await a.client.publishAsync(topics.outbox('alice'), JSON.stringify({ op: 'send', cmid: 'kept-not', cid, type: 'text', body: { text: 'once' } }), { qos: 1, retain: true })
    await a.next('msg', (e) => e.msg.cmid === 'kept-not')
    const persistence = (broker.server.aedes as unknown as { persistence: { createRetainedStream (pattern: string): AsyncIterable<unknown> } }).persistence
    let kept = 0
    for await (const _ of persistence.createRetainedStream('im/u/+/out')) kept++
    assert.equal(kept, 0, 'an outbox is never routed nor retained')
  })

  it('relays typing to the other members at QoS 0 and never stores it', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'group', ['bob'], 'typing')
    const a = await participant(alice)
    const b = await participant(bob)
    await a.command({ op: 'typing', cid, on: true }, 0)
    const typing = await b.next('typing', (e) => e.cid === cid)
    assert.equal(typing.uid, 'alice')
    assert.equal(typing.on, true)
    assert.ok(typing.expiresAt > Date.now())
    // Alice's commands run in order: the answer to the next one comes after anything the typing
    // command sent her. [IM-CMD-1]
    await a.command({ op: 'typing', cid: 'no-such-conversation', on: true })
    await a.next('error', (e) => e.op === 'typing')
    assert.equal(a.events.filter((e) => e.ev === 'typing').length, 0, 'not echoed to the typist')
    const history = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages`, undefined, alice.token)
    assert.equal(history.body.messages.length, 0)
    const list = await api(broker.httpUrl, 'GET', '/api/v1/conversations', undefined, bob.token)
    assert.equal(list.body.conversations.find((c: { cid: string }) => c.cid === cid).lastSeq, 0)
  })

  it('recalls within the window, refuses after it and refuses someone else\'s message', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'group', ['bob', 'carol'], 'team')
    const a = await participant(alice)
    const b = await participant(bob)
    await a.command({ op: 'send', cmid: 'r1', cid, type: 'text', body: { text: 'oops' } })
    await a.command({ op: 'send', cmid: 'r2', cid, type: 'text', body: { text: 'keep' } })
    const r1 = (await a.next('msg', (e) => e.msg.cmid === 'r1')).msg
    const r2 = (await a.next('msg', (e) => e.msg.cmid === 'r2')).msg
    await b.command({ op: 'recall', cid, id: r1.id })
    assert.equal((await b.next('error', (e) => e.op === 'recall')).code, 'IM_ERR_NOT_AUTHOR')
    await a.command({ op: 'recall', cid, id: r1.id })
    const recall = await b.next('recall', (e) => e.id === r1.id)
    assert.equal(recall.seq, 1)
    const history = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=0`, undefined, carol.token)
    assert.equal(history.body.messages[0].body, null)
    assert.ok(history.body.messages[0].recalledAt)
    await sleep(2100)
    await a.command({ op: 'recall', cid, id: r2.id })
    assert.equal((await a.next('error', (e) => e.op === 'recall')).code, 'IM_ERR_RECALL_WINDOW')
    const still = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=1`, undefined, carol.token)
    assert.deepEqual(still.body.messages[0].body, { text: 'keep' })
  })

  it('keeps exact unread counts and read positions, visible over HTTP and as events', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'group', ['bob', 'carol'], 'unread')
    const a = await participant(alice)
    const b = await participant(bob)
    for (let i = 1; i <= 3; i++) await a.command({ op: 'send', cmid: `u${i}`, cid, type: 'text', body: { text: `m${i}` } })
    const unread = async (p: Principal): Promise<number> => (await api(broker.httpUrl, 'GET', '/api/v1/conversations', undefined, p.token)).body.conversations.find((c: { cid: string }) => c.cid === cid).unread
    assert.equal(await unread(alice), 0, 'sending reads')
    assert.equal(await unread(bob), 3)
    assert.equal(await unread(carol), 3)
    await b.command({ op: 'read', cid, seq: 2 })
    const read = await a.next('read', (e) => e.uid === 'bob')
    assert.equal(read.seq, 2)
    assert.equal(await unread(bob), 1)
    await b.command({ op: 'read', cid, seq: 1 })
    await b.command({ op: 'read', cid, seq: 99 })
    assert.equal(await unread(bob), 0, 'clamped to the last message')
    const conv = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}`, undefined, carol.token)
    assert.deepEqual(conv.body.members.map((m: { uid: string, readSeq: number }) => [m.uid, m.readSeq]), [['alice', 3], ['bob', 3], ['carol', 0]])
    const list = await api(broker.httpUrl, 'GET', '/api/v1/conversations', undefined, carol.token)
    const summary = list.body.conversations.find((c: { cid: string }) => c.cid === cid)
    assert.equal(summary.lastMessage.seq, 3)
  })

  it('pages history forwards and backwards', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'direct', ['mallory'])
    const a = await participant(alice)
    for (let i = 1; i <= 12; i++) await a.command({ op: 'send', cmid: `p${i}`, cid, type: 'text', body: { text: `${i}` } })
    const page = async (q: string) => (await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?${q}`, undefined, alice.token)).body
    const first = await page('after=0&limit=5')
    assert.deepEqual(first.messages.map((m: Message) => m.seq), [1, 2, 3, 4, 5])
    assert.equal(first.more, true)
    const last = await page('after=10&limit=5')
    assert.deepEqual(last.messages.map((m: Message) => m.seq), [11, 12])
    assert.equal(last.more, false)
    const newest = await page('limit=3')
    assert.deepEqual(newest.messages.map((m: Message) => m.seq), [10, 11, 12])
    const older = await page('before=10&limit=4')
    assert.deepEqual(older.messages.map((m: Message) => m.seq), [6, 7, 8, 9])
    assert.equal(older.more, true)
    assert.equal((await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=1&before=3`, undefined, alice.token)).status, 400)
  })

  it('manages group members: owner adds and removes, others may only leave', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'group', ['bob'], 'members')
    const c = await participant(carol)
    const add = await api(broker.httpUrl, 'POST', `/api/v1/conversations/${cid}/members`, { uid: 'carol' }, alice.token)
    assert.equal(add.status, 201)
    const added = await c.next('conv', (e) => e.type === 'member-added' && e.conv.cid === cid)
    assert.equal(added.uid, 'carol')
    const byMember = await api(broker.httpUrl, 'POST', `/api/v1/conversations/${cid}/members`, { uid: 'mallory' }, bob.token)
    assert.equal(byMember.status, 403)
    const leave = await api(broker.httpUrl, 'DELETE', `/api/v1/conversations/${cid}/members/bob`, undefined, bob.token)
    assert.equal(leave.status, 200)
    const after = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages`, undefined, bob.token)
    assert.equal(after.body.error.code, 'IM_ERR_NOT_MEMBER')
    const again = await createConversation(broker.httpUrl, bob.token, 'direct', ['alice'])
    assert.equal(again, await createConversation(broker.httpUrl, alice.token, 'direct', ['bob']), 'one direct conversation per pair')
  })

  it('announces presence to contacts and retained on im/p/{uid}', async () => {
    await createConversation(broker.httpUrl, carol.token, 'direct', ['mallory'])
    await Promise.all(open.filter((p) => p.uid === 'carol').map(async (p) => { await p.close() }))
    const m = await participant(mallory)
    const c = await participant(carol, 'carol-presence')
    const online = await m.next('presence', (e) => e.uid === 'carol' && e.online)
    assert.ok(online.ts > 0)
    const ownPresence: string[] = []
    c.client.on('message', (topic, payload) => { if (topic === 'im/p/carol') ownPresence.push(payload.toString()) })
    await c.client.subscribeAsync('im/p/carol', { qos: 1 })
    await waitFor(() => ownPresence.some((p) => JSON.parse(p).online === true), 3000, 'retained presence')
    await c.close()
    const offline = await m.next('presence', (e) => e.uid === 'carol' && !e.online)
    assert.equal(offline.online, false)
  })
})
