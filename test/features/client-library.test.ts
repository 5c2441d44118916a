/**
 * The client library (shared/client) against a real broker, over real MQTT.js connections:
 * connect with a token, chat both ways, offline delivery, retried sends stored once, gaps filled
 * by sync, reconnect after the broker drops connections, and `close()` that never reconnects.
 * [IM-AUTH-1] [IM-CMD-SEND] [IM-IDEM-1] [IM-SYNC-1]
 */
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import {
  ConnectionClosedError, createImClient, Emitter, MqttJsTransport,
  type ImClient, type QoS, type Transport, type TransportConnectOptions, type TransportEvents
} from '../../shared/client/index.js'
import type { HistoryPage, ImEvent, Message } from '../../shared/protocol.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, type Principal } from '../helpers/http.js'
import { sleep, waitFor } from '../helpers/mqtt.js'

/**
 * MQTT.js with a switch to lose traffic on purpose: `blackhole` loses every incoming event and
 * every PUBACK (the publishes themselves still reach the broker), `drop` loses chosen events.
 */
class ControlledTransport extends Emitter<TransportEvents> implements Transport {
  readonly inner = new MqttJsTransport()
  readonly published: Array<Record<string, unknown>> = []
  connects = 0
  blackhole = false
  drop: (event: ImEvent) => boolean = () => false

  constructor () {
    super()
    this.inner.on('connect', (e) => this.emit('connect', e))
    this.inner.on('close', (e) => this.emit('close', e))
    this.inner.on('message', (m) => {
      if (this.blackhole || this.drop(JSON.parse(new TextDecoder().decode(m.payload)) as ImEvent)) return
      this.emit('message', m)
    })
  }

  get connected (): boolean { return this.inner.connected }

  async connect (url: string, options: TransportConnectOptions): Promise<{ sessionPresent: boolean }> {
    this.connects++
    return await this.inner.connect(url, options)
  }

  async publish (topic: string, payload: string, qos: QoS): Promise<void> {
    this.published.push(JSON.parse(payload) as Record<string, unknown>)
    const acked = this.inner.publish(topic, payload, qos)
    if (!this.blackhole) { await acked; return }
    // The PUBACK is lost: only the end of the connection settles this publish.
    await new Promise<void>((_resolve, reject) => {
      acked.catch(reject)
      const off = this.inner.on('close', () => { off(); reject(new ConnectionClosedError()) })
    })
  }

  async subscribe (filter: string, qos: QoS): Promise<number> { return await this.inner.subscribe(filter, qos) }
  async end (): Promise<void> { await this.inner.end() }
}

interface Peer {
  client: ImClient
  transport: ControlledTransport
  messages: Message[]
  events: string[]
}

describe('client library against the broker', () => {
  let broker: TestBroker
  let alice: Principal
  let bob: Principal
  let carol: Principal
  const open: ImClient[] = []
  let n = 0

  const peer = (who: Principal, clientId = `${who.uid}-${++n}`, lastSeqs?: Record<string, number>): Peer => {
    const transport = new ControlledTransport()
    const client = createImClient({ mqttUrl: broker.mqttUrl, httpUrl: broker.httpUrl, uid: who.uid, token: who.token, clientId, transport, ...(lastSeqs ? { lastSeqs } : {}) })
    open.push(client)
    const messages: Message[] = []
    const events: string[] = []
    client.on('message', (m) => messages.push(m))
    client.on('connected', (e) => events.push(`connected:${String(e.sessionPresent)}`))
    client.on('disconnected', (e) => events.push(`disconnected:${String(e.willReconnect)}`))
    client.on('reconnecting', (e) => events.push(`reconnecting:${e.attempt}:${e.delayMs}`))
    client.on('closed', () => events.push('closed'))
    return { client, transport, messages, events }
  }
  /** The broker closes this client's connection, as when the network or the broker drops it. */
  const kill = (clientId: string): void => {
    const client = (broker.server.aedes as any).clients[clientId]
    assert.ok(client, `${clientId} is connected`)
    client.close()
  }
  const history = async (who: Principal, cid: string): Promise<Message[]> => {
    const res = await api<HistoryPage>(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=0&limit=200`, undefined, who.token)
    assert.equal(res.status, 200)
    return res.body.messages
  }
  const texts = (messages: Message[]): string[] => messages.map((m) => (m.body as { text: string }).text)

  before(async () => {
    broker = await startTestBroker()
    const admin = await adminToken(broker.httpUrl)
    ;[alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map(async (uid) => await createUser(broker.httpUrl, admin, uid)))
  })
  after(async () => {
    await Promise.all(open.map(async (c) => { await c.close() }))
    await broker.stop()
  })

  it('turns Nagle off on its TCP socket, so acknowledging and publishing never wait for a delayed ACK', async () => {
    // Node does not report the flag back: spy on the real socket's setter while one transport connects.
    // The broker, in this process too, sets it on the sockets it accepts: count the client's side only.
    const calls: boolean[] = []
    const original = Socket.prototype.setNoDelay
    Socket.prototype.setNoDelay = function (this: Socket, on?: boolean) {
      if (this.localPort !== broker.server.ports.mqtt) calls.push(on ?? true)
      return original.call(this, on)
    }
    const transport = new MqttJsTransport()
    try {
      await transport.connect(broker.mqttUrl, { clientId: 'nodelay-1', username: alice.uid, password: alice.token, clean: true, keepalive: 30, connectTimeoutMs: 5000 })
    } finally {
      Socket.prototype.setNoDelay = original
      await transport.end()
    }
    assert.deepEqual(calls, [true])
  })

  it('connects with its token on a persistent session, and is refused with a bad one', async () => {
    const a = peer(alice, 'alice-token')
    await a.client.connect()
    assert.equal(a.client.connected, true)
    assert.ok((broker.server.aedes as any).clients['alice-token'], 'the broker knows the client id')
    kill('alice-token')
    await waitFor(() => a.events.filter((e) => e.startsWith('connected')).length === 2, 5000, 'the reconnect')
    assert.deepEqual(a.events, ['connected:false', 'disconnected:true', 'reconnecting:1:1000', 'connected:true'])

    const forged = createImClient({ mqttUrl: broker.mqttUrl, httpUrl: broker.httpUrl, uid: 'alice', token: 'not-a-token', clientId: 'alice-forged' })
    open.push(forged)
    const closed = forged.next('closed')
    await assert.rejects(forged.connect(), { code: 'CLIENT_CLOSED' })
    assert.match((await closed).error?.message ?? '', /CONNACK 5/)
  })

  it('lets two users chat both ways in a direct conversation, each message once and in order', async () => {
    const a = peer(alice)
    const b = peer(bob)
    await Promise.all([a.client.connect(), b.client.connect()])
    const conv = await a.client.createConversation('direct', ['bob'])
    const first = await a.client.send(conv.cid, 'Hi Bob')
    assert.equal(first.from, 'alice')
    await waitFor(() => b.messages.some((m) => m.id === first.id), 5000, 'bob gets it')
    const reply = await b.client.send(conv.cid, 'Hi Alice')
    await waitFor(() => a.messages.some((m) => m.id === reply.id), 5000, 'alice gets the reply')
    await sleep(200)
    for (const p of [a, b]) {
      const mine = p.messages.filter((m) => m.cid === conv.cid)
      assert.deepEqual(mine.map((m) => [m.seq, m.from]), [[first.seq, 'alice'], [reply.seq, 'bob']])
    }
    assert.deepEqual(a.client.pending(), [])
  })

  it('delivers a message sent while the recipient was disconnected after its reconnect', async () => {
    const a = peer(alice)
    const b = peer(bob, 'bob-offline')
    await Promise.all([a.client.connect(), b.client.connect()])
    const { cid } = await a.client.createConversation('direct', ['bob'])
    // Bob has caught up (the sync that follows a connect is done) before his connection is cut.
    await b.client.sync()
    kill('bob-offline')
    await waitFor(() => b.client.state === 'waiting', 2000, 'bob to notice')
    const sent = await a.client.send(cid, 'while you were away')
    await waitFor(() => b.messages.some((m) => m.id === sent.id), 5000, 'bob to get it after the reconnect')
    await sleep(300)
    assert.equal(b.messages.filter((m) => m.id === sent.id).length, 1)

    // A new run on the same device (clientId, lastSeqs kept) gets what came while it was closed.
    const kept = b.client.lastSeqs()
    await b.client.close()
    const later = await a.client.send(cid, 'while you were closed')
    const b2 = peer(bob, 'bob-offline', kept)
    await b2.client.connect()
    await waitFor(() => b2.messages.some((m) => m.id === later.id), 5000, 'the next run to get it')
    await sleep(300)
    assert.deepEqual(b2.messages.filter((m) => m.cid === cid).map((m) => m.seq), [later.seq])
  })

  it('retries a send whose PUBACK was lost with the same cmid after the reconnect, and it is stored once', async () => {
    const a = peer(alice, 'alice-lossy')
    const b = peer(bob)
    await Promise.all([a.client.connect(), b.client.connect()])
    const { cid } = await a.client.createConversation('group', ['bob'], 'lossy')
    a.transport.blackhole = true
    const sending = a.client.send(cid, 'exactly once')
    await waitFor(() => b.messages.some((m) => m.cid === cid), 5000, 'the broker to store and deliver it')
    assert.equal(a.client.pending()[0]?.status, 'sending', 'no PUBACK, no echo seen')
    const { cmid } = a.client.pending()[0]!
    kill('alice-lossy')
    await waitFor(() => a.client.state === 'waiting', 2000, 'alice to notice')
    a.transport.blackhole = false
    const stored = await sending
    assert.equal(stored.cmid, cmid)
    // sent again after the reconnect — unless the catch-up sync found it stored first — never
    // under another cmid
    const sends = a.transport.published.filter((c) => c.op === 'send').map((c) => c.cmid)
    assert.ok(sends.length >= 1 && sends.every((c) => c === cmid), `every send of it carries its cmid: ${JSON.stringify(sends)}`)
    await sleep(300)
    assert.deepEqual(texts(await history(alice, cid)), ['exactly once'])
    assert.equal(b.messages.filter((m) => m.cid === cid).length, 1)
    assert.equal(a.messages.filter((m) => m.cid === cid).length, 1)
  })

  it('keeps a send made while the socket is down and sends it after the reconnect', async () => {
    const a = peer(alice, 'alice-down')
    await a.client.connect()
    const { cid } = await a.client.createConversation('direct', ['carol'])
    kill('alice-down')
    await waitFor(() => a.client.state === 'waiting', 2000, 'alice to notice')
    const sending = a.client.send(cid, 'queued while down')
    assert.equal(a.client.pending()[0]?.status, 'queued')
    const stored = await sending
    assert.equal(stored.seq, 1)
    assert.deepEqual(texts(await history(carol, cid)), ['queued while down'])
  })

  it('fills a gap over HTTP and emits the missing messages in order before the one that revealed it', async () => {
    const a = peer(alice)
    const b = peer(bob)
    await Promise.all([a.client.connect(), b.client.connect()])
    const { cid } = await a.client.createConversation('group', ['bob'], 'gaps')
    b.transport.drop = (e) => e.ev === 'msg' && e.msg.cid === cid && (e.msg.seq === 2 || e.msg.seq === 3)
    const synced: unknown[] = []
    b.client.on('synced', (s) => synced.push(s))
    for (const text of ['one', 'two', 'three', 'four']) await a.client.send(cid, text)
    await waitFor(() => b.messages.filter((m) => m.cid === cid).length === 4, 5000, 'all four')
    await sleep(200)
    assert.deepEqual(texts(b.messages.filter((m) => m.cid === cid)), ['one', 'two', 'three', 'four'])
    assert.deepEqual(synced, [{ cid, from: 1, to: 4 }])
  })

  it('routes read receipts, typing, edits and recalls', async () => {
    const a = peer(alice)
    const b = peer(bob)
    await Promise.all([a.client.connect(), b.client.connect()])
    const { cid } = await a.client.createConversation('direct', ['bob'])
    const m = await a.client.send(cid, 'typo')
    const typing = b.client.next('typing')
    await a.client.typing(cid, true)
    assert.equal((await typing).uid, 'alice')
    const read = a.client.next('read')
    await b.client.read(cid, m.seq)
    assert.deepEqual(await read, { ev: 'read', cid, uid: 'bob', seq: m.seq })
    const edited = b.client.next('edit')
    assert.deepEqual((await a.client.edit(cid, m.id, 'fixed')).body, { text: 'fixed' })
    assert.deepEqual((await edited).msg.body, { text: 'fixed' })
    const recalled = b.client.next('recall')
    assert.equal((await a.client.recall(cid, m.id)).id, m.id)
    assert.equal((await recalled).id, m.id)
    await assert.rejects(b.client.recall(cid, m.id), { name: 'ImError', code: 'IM_ERR_NOT_AUTHOR' })
  })

  it('resumes after the broker drops every connection', async () => {
    const a = peer(alice, 'alice-resume')
    const b = peer(bob, 'bob-resume')
    await Promise.all([a.client.connect(), b.client.connect()])
    const { cid } = await a.client.createConversation('direct', ['bob'])
    kill('alice-resume')
    kill('bob-resume')
    const back = (p: Peer): boolean => p.events.join() === 'connected:false,disconnected:true,reconnecting:1:1000,connected:true'
    await waitFor(() => back(a) && back(b), 5000, 'both back, after 1 s')
    const sent = await a.client.send(cid, 'still here')
    await waitFor(() => b.messages.some((m) => m.id === sent.id), 5000, 'bob to get it')
  })

  it('never reconnects after close()', async () => {
    const b = peer(bob, 'bob-closing')
    await b.client.connect()
    await b.client.close()
    assert.equal(b.client.state, 'closed')
    await sleep(2500)
    assert.equal(b.transport.connects, 1)
    assert.equal((broker.server.aedes as any).clients['bob-closing'], undefined)
    assert.deepEqual(b.events, ['connected:false', 'disconnected:false', 'closed'])
    await assert.rejects(b.client.connect(), { code: 'CLIENT_CLOSED' })
    await assert.rejects(b.client.send('x', 'y'), { code: 'CLIENT_CLOSED' })
  })
})
