import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Message } from '../../../shared/protocol.js'
import { ImClient } from '../../../shared/client/im-client.js'
import type { PendingMessage } from '../../../shared/client/pending-sends.js'
import { FakeServer, FakeTimers, FakeTransport, flush } from './fakes.js'

const INBOX = 'im/u/alice/in'

function setup () {
  const timers = new FakeTimers()
  const transport = new FakeTransport()
  const server = new FakeServer()
  let n = 0
  const client = new ImClient({
    mqttUrl: 'mqtt://broker', httpUrl: 'http://api', uid: 'alice', token: 'tok', clientId: 'alice-1',
    transport, timers, fetch: server.fetch, newId: () => `cm-${++n}`, gapGraceMs: 0
  })
  const statuses: string[] = []
  client.on('pending', (p) => statuses.push(`${p.cmid}:${p.status}`))
  /** the server's answer to a send: the echo */
  const echo = (cmid: string, seq: number, cid = 'c1'): Message => {
    const msg: Message = { id: `id-${cmid}`, cid, seq, from: 'alice', ts: 1, type: 'text', body: { text: 'x' }, cmid }
    transport.deliver(INBOX, { ev: 'msg', msg })
    return msg
  }
  return { timers, transport, server, client, statuses, echo }
}

describe('Pending sends', () => {
  it('publishes a send on the outbox at QoS 1 and resolves with its echo', async () => {
    const { transport, client, echo, statuses } = setup()
    await client.connect()
    const sent: Message[] = []
    client.on('sent', (m) => sent.push(m))
    const promise = client.send('c1', 'hello')
    await flush()
    assert.deepEqual(transport.sends().map((p) => [p.topic, p.qos, p.json]), [['im/u/alice/out', 1, { op: 'send', cmid: 'cm-1', cid: 'c1', type: 'text', body: { text: 'hello' } }]])
    assert.deepEqual(client.pending().map((p) => [p.cmid, p.status]), [['cm-1', 'stored']])
    const msg = echo('cm-1', 1)
    assert.deepEqual(await promise, msg)
    assert.deepEqual(sent, [msg])
    assert.deepEqual(client.pending(), [])
    assert.deepEqual(statuses, ['cm-1:queued', 'cm-1:sending', 'cm-1:stored'])
    await client.close()
  })

  it('infers `custom` for a {kind, data} body', async () => {
    const { transport, client } = setup()
    await client.connect()
    void client.send('c1', { kind: 'order', data: { id: 9 } })
    await flush()
    assert.equal(transport.sends()[0]?.json.type, 'custom')
    await client.close()
  })

  it('keeps a send made while offline queued and publishes it once connected', async () => {
    const { transport, client, echo } = setup()
    const promise = client.send('c1', 'early')
    assert.deepEqual(client.pending().map((p) => p.status), ['queued'])
    await client.connect()
    await flush()
    assert.equal(transport.sends().length, 1)
    echo('cm-1', 1)
    assert.equal((await promise).cmid, 'cm-1')
    await client.close()
  })

  it('re-sends an unacknowledged send with the same cmid after a reconnect, in the order made', async () => {
    const { timers, transport, client, echo } = setup()
    await client.connect()
    transport.holdAcks = true
    const first = client.send('c1', 'one')
    const second = client.send('c1', 'two')
    await flush()
    assert.deepEqual(client.pending().map((p) => p.status), ['sending', 'sending'])
    transport.drop()
    assert.deepEqual(client.pending().map((p) => p.status), ['queued', 'queued'])
    transport.holdAcks = false
    await timers.advance(1000)
    assert.deepEqual(transport.sends().map((p) => p.json.cmid), ['cm-1', 'cm-2', 'cm-1', 'cm-2'])
    assert.deepEqual(client.pending().map((p) => [p.cmid, p.attempts]), [['cm-1', 2], ['cm-2', 2]])
    echo('cm-1', 1)
    echo('cm-2', 2)
    assert.deepEqual([(await first).seq, (await second).seq], [1, 2])
    await client.close()
  })

  it('re-sends a stored send whose echo does not come, while connected', async () => {
    const { timers, transport, client, echo } = setup()
    await client.connect()
    const promise = client.send('c1', 'x')
    await flush()
    await timers.advance(9999)
    assert.equal(transport.sends().length, 1)
    await timers.advance(1)
    assert.equal(transport.sends().length, 2)
    echo('cm-1', 1)
    await promise
    await timers.advance(60_000)
    assert.equal(transport.sends().length, 2, 'no more re-sends once confirmed')
    await client.close()
  })

  it('fails a send on the server\'s error event for its cmid', async () => {
    const { transport, client } = setup()
    await client.connect()
    const failed: Array<{ pending: PendingMessage, error: Error }> = []
    client.on('failed', (f) => failed.push(f))
    const promise = client.send('c9', 'x')
    await flush()
    transport.deliver(INBOX, { ev: 'error', code: 'IM_ERR_NOT_MEMBER', message: 'You are not a member of this conversation.', cmid: 'cm-1', op: 'send' })
    await assert.rejects(promise, { name: 'ImError', code: 'IM_ERR_NOT_MEMBER' })
    assert.equal(failed[0]?.pending.cmid, 'cm-1')
    assert.deepEqual(client.pending(), [])
    await client.close()
  })

  it('resolves through the echo recovered by sync too', async () => {
    const { transport, server, client } = setup()
    transport.holdAcks = true
    await client.connect()
    await flush()
    const promise = client.send('c1', 'x')
    await flush()
    // The echo was lost; another message reveals a gap, and sync brings the echo back.
    server.add({ id: 'id-cm-1', cid: 'c1', seq: 1, from: 'alice', ts: 1, type: 'text', body: { text: 'x' }, cmid: 'cm-1' },
      { id: 'b2', cid: 'c1', seq: 2, from: 'bob', ts: 2, type: 'text', body: { text: 'y' }, cmid: 'b' })
    transport.deliver(INBOX, { ev: 'conv', type: 'created', conv: { cid: 'c1', kind: 'direct', members: [], createdAt: 0, createdBy: 'alice', lastSeq: 0 } })
    transport.deliver(INBOX, { ev: 'msg', msg: server.history.get('c1')![1]! })
    await flush()
    assert.equal((await promise).seq, 1)
    await client.close()
  })

  it('cancels a send on request, and fails every pending send on close()', async () => {
    const { client } = setup()
    const a = client.send('c1', 'a')
    const b = client.send('c1', 'b')
    assert.equal(client.cancel('cm-1'), true)
    await assert.rejects(a, { code: 'CLIENT_CANCELLED' })
    await client.close()
    await assert.rejects(b, { code: 'CLIENT_CLOSED' })
    await assert.rejects(client.send('c1', 'c'), { code: 'CLIENT_CLOSED' })
  })

  it('re-uses a cmid given by the application, and gives one promise for the same cmid', async () => {
    const { transport, client, echo } = setup()
    await client.connect()
    const a = client.send('c1', 'x', 'text', { cmid: 'kept-from-last-run' })
    const b = client.send('c1', 'x', 'text', { cmid: 'kept-from-last-run' })
    await flush()
    assert.equal(transport.sends().length, 1)
    echo('kept-from-last-run', 4)
    assert.equal(await a, await b)
    await client.close()
  })
})
