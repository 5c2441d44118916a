import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ConvEvent, Message } from '../../../shared/protocol.js'
import { ImClient } from '../../../shared/client/im-client.js'
import type { ImClientOptions } from '../../../shared/client/types.js'
import { FakeServer, FakeTimers, FakeTransport, flush, message } from './fakes.js'

const INBOX = 'im/u/alice/in'

function setup (options: Partial<ImClientOptions> = {}) {
  const timers = new FakeTimers()
  const transport = new FakeTransport()
  const server = new FakeServer()
  let n = 0
  const client = new ImClient({
    mqttUrl: 'mqtt://broker', httpUrl: 'http://api/', uid: 'alice', token: 'tok', clientId: 'alice-1',
    transport, timers, fetch: server.fetch, newId: () => `cm-${++n}`, gapGraceMs: 0, ...options
  })
  const got: Message[] = []
  client.on('message', (m) => got.push(m))
  const seqs = (cid = 'c1'): number[] => got.filter((m) => m.cid === cid).map((m) => m.seq)
  return { timers, transport, server, client, got, seqs }
}

const created = (cid: string, lastSeq = 0): ConvEvent => ({ ev: 'conv', type: 'created', conv: { cid, kind: 'direct', members: [], createdAt: 0, createdBy: 'bob', lastSeq } })

describe('ImClient', () => {
  it('lists the conversations after connecting, and treats what was there before as history', async () => {
    const { server, client, got, transport } = setup()
    server.add(message('c1', 1), message('c1', 2))
    await client.connect()
    await flush()
    assert.deepEqual(server.requests, ['GET /api/v1/conversations?limit=200'])
    assert.equal(got.length, 0)
    assert.deepEqual(client.lastSeqs(), { c1: 2 })
    transport.deliver(INBOX, { ev: 'msg', msg: message('c1', 3) })
    assert.deepEqual(got.map((m) => m.seq), [3])
    await client.close()
  })

  it('emits the messages the persistent session delivered while the first list was on its way', async () => {
    const { server, client, transport, seqs } = setup()
    server.add(message('c1', 1), message('c1', 2), message('c1', 3))
    await client.connect()
    transport.deliver(INBOX, { ev: 'msg', msg: message('c1', 2) })
    transport.deliver(INBOX, { ev: 'msg', msg: message('c1', 3) })
    await flush()
    assert.deepEqual(seqs(), [2, 3])
    await client.close()
  })

  it('drops duplicate events and fills a gap in order, then reports the sync', async () => {
    const { server, client, transport, seqs } = setup()
    await client.connect()
    await flush()
    const synced: unknown[] = []
    client.on('synced', (s) => synced.push(s))
    transport.deliver(INBOX, created('c1'))
    server.add(...[1, 2, 3, 4].map((s) => message('c1', s)))
    transport.deliver(INBOX, { ev: 'msg', msg: message('c1', 1) })
    transport.deliver(INBOX, { ev: 'msg', msg: message('c1', 1) })
    transport.deliver(INBOX, { ev: 'msg', msg: message('c1', 4) })
    await flush()
    assert.deepEqual(seqs(), [1, 2, 3, 4])
    assert.deepEqual(synced, [{ cid: 'c1', from: 1, to: 4 }])
    assert.ok(server.requests.includes('GET /api/v1/conversations/c1/messages?after=1&limit=200'))
    await client.close()
  })

  it('catches up every conversation after a reconnect', async () => {
    const { server, client, transport, timers, seqs } = setup()
    server.add(message('c1', 1))
    await client.connect()
    await flush()
    transport.drop()
    server.add(message('c1', 2), message('c1', 3), message('c2', 1))
    await timers.advance(1000)
    await flush()
    assert.deepEqual(seqs('c1'), [2, 3])
    assert.deepEqual(seqs('c2'), [1], 'a conversation that appeared while away is news from its start')
    await client.close()
  })

  it('starts from the lastSeqs of an earlier run', async () => {
    const { server, client, seqs } = setup({ lastSeqs: { c1: 1 } })
    server.add(message('c1', 1), message('c1', 2), message('c1', 3))
    await client.connect()
    await flush()
    assert.deepEqual(seqs(), [2, 3])
    await client.close()
  })

  it('tries a failed sync again with backoff while connected', async () => {
    const { server, client, timers, seqs } = setup({ lastSeqs: { c1: 0 } })
    server.add(message('c1', 1))
    server.failNext = 2
    const failures: unknown[] = []
    client.on('sync-failed', (f) => failures.push(f.error.message))
    await client.connect()
    await flush()
    assert.deepEqual(failures, ['fetch failed'])
    await timers.advance(1000)
    assert.deepEqual(failures, ['fetch failed', 'fetch failed'])
    await timers.advance(2000)
    assert.deepEqual(seqs(), [1])
    await client.close()
  })

  it('routes read, typing, presence, conv, recall and edit events; ignores unknown events, bad JSON and other topics', async () => {
    const { client, transport } = setup()
    await client.connect()
    const seen: string[] = []
    for (const ev of ['read', 'typing', 'presence', 'conv', 'recall', 'edit', 'error'] as const) client.on(ev, () => seen.push(ev))
    transport.deliver(INBOX, { ev: 'read', cid: 'c1', uid: 'bob', seq: 1 })
    transport.deliver(INBOX, { ev: 'typing', cid: 'c1', uid: 'bob', on: true, expiresAt: 1 })
    transport.deliver(INBOX, { ev: 'presence', uid: 'bob', online: true, ts: 1 })
    transport.deliver(INBOX, created('c7'))
    transport.deliver(INBOX, { ev: 'recall', cid: 'c1', id: 'm1', seq: 1, by: 'bob', recalledAt: 5 })
    transport.deliver(INBOX, { ev: 'recall', cid: 'c1', id: 'm1', seq: 1, by: 'bob', recalledAt: 5 })
    transport.deliver(INBOX, { ev: 'edit', msg: message('c1', 2, { editedAt: 9 }) })
    transport.deliver(INBOX, { ev: 'error', code: 'IM_ERR_BAD_REQUEST', message: 'x' })
    transport.deliver(INBOX, '{"ev":"future-event","x":1}')
    transport.deliver(INBOX, 'not json')
    transport.deliver(INBOX, '{"ev":"msg","msg":{"id":1}}')
    transport.deliver('im/u/bob/in', { ev: 'read', cid: 'c1', uid: 'bob', seq: 1 })
    assert.deepEqual(seen, ['read', 'typing', 'presence', 'conv', 'recall', 'edit', 'error'])
    await client.close()
  })

  it('routes the customer-service events (queue, notice, support-queue, agent); drops malformed ones', async () => {
    const { client, transport } = setup()
    await client.connect()
    const seen: string[] = []
    for (const ev of ['queue', 'notice', 'support-queue', 'agent'] as const) client.on(ev, () => seen.push(ev))
    transport.deliver(INBOX, { ev: 'queue', cid: 's1', position: 2, waiting: 3 })
    transport.deliver(INBOX, { ev: 'notice', cid: 's1', code: 'offline', text: 'later' })
    transport.deliver(INBOX, { ev: 'support-queue', waiting: [{ cid: 's1', visitor: 'v1', queuedAt: 1, context: {}, wrote: false }], total: 1, silent: 1 })
    transport.deliver(INBOX, { ev: 'agent', agent: { uid: 'alice', status: 'online', capacity: 3, active: [], idleSince: 1 } })
    transport.deliver(INBOX, JSON.stringify({ ev: 'queue', position: 2 }))
    transport.deliver(INBOX, JSON.stringify({ ev: 'support-queue', waiting: [{ visitor: 'v1' }] }))
    transport.deliver(INBOX, JSON.stringify({ ev: 'agent', agent: null }))
    assert.deepEqual(seen, ['queue', 'notice', 'support-queue', 'agent'])
    await client.close()
  })

  it('publishes a support command at QoS 1, and refuses it while offline', async () => {
    const { client, transport } = setup()
    await assert.rejects(client.support({ op: 'support.claim', cid: 's1' }), { code: 'CLIENT_OFFLINE' })
    await client.connect()
    await client.support({ op: 'agent.status', status: 'online', capacity: 4 })
    const last = transport.published.at(-1)
    assert.equal(last?.topic, 'im/u/alice/out')
    assert.equal(last?.qos, 1)
    assert.deepEqual(last?.json, { op: 'agent.status', status: 'online', capacity: 4 })
    await client.close()
  })

  it('confirms a recall and an edit by their events, and rejects on the error for their cmid', async () => {
    const { client, transport } = setup()
    await client.connect()
    const recall = client.recall('c1', 'm1')
    await flush()
    assert.deepEqual(transport.published.at(-1)?.json, { op: 'recall', cid: 'c1', id: 'm1', cmid: 'cm-1' })
    transport.deliver(INBOX, { ev: 'recall', cid: 'c1', id: 'm1', seq: 1, by: 'alice', recalledAt: 5 })
    assert.equal((await recall).recalledAt, 5)
    const edit = client.edit('c1', 'm2', 'fixed')
    await flush()
    assert.deepEqual(transport.published.at(-1)?.json, { op: 'edit', cid: 'c1', id: 'm2', body: { text: 'fixed' }, cmid: 'cm-2' })
    transport.deliver(INBOX, { ev: 'error', code: 'IM_ERR_RECALL_WINDOW', message: 'late', cmid: 'cm-2', op: 'edit' })
    await assert.rejects(edit, { code: 'IM_ERR_RECALL_WINDOW' })
    await client.close()
  })

  it('times out a recall nobody answers, and refuses one while offline', async () => {
    const { client, timers } = setup()
    await assert.rejects(client.recall('c1', 'm1'), { code: 'CLIENT_OFFLINE' })
    await client.connect()
    const timedOut = assert.rejects(client.recall('c1', 'm1'), { code: 'CLIENT_TIMEOUT' })
    await timers.advance(9_999)
    await timers.advance(1)
    await timedOut
    await client.close()
  })

  it('keeps the highest read position while offline and sends it after the reconnect; typing is dropped', async () => {
    const { client, transport, timers } = setup()
    await client.connect()
    transport.drop()
    await client.read('c1', 3)
    await client.read('c1', 5)
    await client.read('c1', 4)
    await client.typing('c1', true)
    assert.equal(transport.published.length, 0)
    await timers.advance(1000)
    assert.deepEqual(transport.published.map((p) => [p.json, p.qos]), [[{ op: 'read', cid: 'c1', seq: 5 }, 1]])
    await client.typing('c1', true)
    assert.deepEqual(transport.published.at(-1)?.qos, 0)
    await client.close()
  })

  it('re-emits the connection events and closes for good', async () => {
    const { client, transport, timers } = setup()
    const events: string[] = []
    for (const ev of ['connected', 'disconnected', 'reconnecting', 'closed'] as const) client.on(ev, () => events.push(ev))
    await client.connect()
    transport.drop()
    await timers.advance(1000)
    await client.close()
    await timers.advance(60_000)
    assert.deepEqual(events, ['connected', 'disconnected', 'reconnecting', 'connected', 'disconnected', 'closed'])
    assert.equal(transport.connects.length, 2)
    assert.equal(client.state, 'closed')
  })
})
