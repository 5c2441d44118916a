/**
 * The widget's minimal MQTT 3.1.1 client (shared/client/mini-mqtt) over real WebSockets (`ws`
 * stands in for the browser's): the client library runs on it against our broker — connect,
 * refusal, chat both ways, reconnect — and it speaks to Mosquitto: QoS 0 and 1 both ways,
 * keepalive pings. A scripted WebSocket server covers what a real broker will not do on demand:
 * packets coalesced and split across frames, and a PINGRESP that never comes.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { WebSocket, WebSocketServer } from 'ws'
import { ImClient } from '../../shared/client/core.js'
import { ConnectionClosedError, ConnectRefusedError, type TransportConnectOptions } from '../../shared/client/transport.js'
import { MiniMqttTransport, type WebSocketCtor } from '../../shared/client/mini-mqtt/mini-transport.js'
import { encode, PacketReader, type Packet } from '../../shared/client/mini-mqtt/packets.js'
import type { Message } from '../../shared/protocol.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, createUser, type Principal } from '../helpers/http.js'
import { mosquittoInstalled, MOSQUITTO_BIN, startMosquitto, type Mosquitto } from '../helpers/mosquitto.js'
import { sleep, waitFor } from '../helpers/mqtt.js'

const WS = WebSocket as unknown as WebSocketCtor
const text = (payload: Uint8Array): string => new TextDecoder().decode(payload)
const options = (clientId: string, extra: Partial<TransportConnectOptions> = {}): TransportConnectOptions => ({
  clientId, username: '', password: '', clean: true, keepalive: 30, connectTimeoutMs: 5000, ...extra
})

describe('mini MQTT client against our broker', () => {
  let broker: TestBroker
  let alice: Principal
  let bob: Principal
  const open: ImClient[] = []

  const peer = (who: Principal, clientId: string): { client: ImClient, messages: Message[], events: string[] } => {
    const client = new ImClient({ mqttUrl: broker.wsUrl, httpUrl: broker.httpUrl, uid: who.uid, token: who.token, clientId, transport: new MiniMqttTransport({ WebSocket: WS }) })
    open.push(client)
    const messages: Message[] = []
    const events: string[] = []
    client.on('message', (m) => messages.push(m))
    client.on('connected', (e) => events.push(`connected:${String(e.sessionPresent)}`))
    client.on('disconnected', (e) => events.push(`disconnected:${String(e.willReconnect)}`))
    return { client, messages, events }
  }
  const kill = (clientId: string): void => {
    const client = (broker.server.aedes as any).clients[clientId]
    assert.ok(client, `${clientId} is connected`)
    client.close()
  }

  before(async () => {
    broker = await startTestBroker()
    const admin = await adminToken(broker.httpUrl)
    ;[alice, bob] = await Promise.all(['alice', 'bob'].map(async (uid) => await createUser(broker.httpUrl, admin, uid)))
  })
  after(async () => {
    await Promise.all(open.map(async (c) => { await c.close() }))
    await broker.stop()
  })

  it('is refused with CONNACK 5 for a bad token, and a publish without a connection is rejected', async () => {
    const t = new MiniMqttTransport({ WebSocket: WS })
    await assert.rejects(t.connect(broker.wsUrl, options('alice-bad', { username: 'alice', password: 'not-a-token' })),
      (err: unknown) => err instanceof ConnectRefusedError && err.returnCode === 5)
    assert.equal(t.connected, false)
    await assert.rejects(t.publish('im/u/alice/out', '{}', 1), ConnectionClosedError)
  })

  it('runs the client library: two users chat both ways, each message once and in order', async () => {
    const a = peer(alice, 'alice-mini')
    const b = peer(bob, 'bob-mini')
    await Promise.all([a.client.connect(), b.client.connect()])
    assert.ok((broker.server.aedes as any).clients['alice-mini'], 'the broker knows the client id')
    const conv = await a.client.createConversation('direct', ['bob'])
    const first = await a.client.send(conv.cid, 'Hi Bob, from the widget 😀')
    await waitFor(() => b.messages.some((m) => m.id === first.id), 5000, 'bob gets it')
    const reply = await b.client.send(conv.cid, 'Hi Alice')
    await waitFor(() => a.messages.some((m) => m.id === reply.id), 5000, 'alice gets the reply')
    await sleep(200)
    for (const p of [a, b]) {
      assert.deepEqual(p.messages.filter((m) => m.cid === conv.cid).map((m) => [m.seq, m.from]), [[first.seq, 'alice'], [reply.seq, 'bob']])
    }
    assert.equal((b.messages.find((m) => m.id === first.id)?.body as { text: string }).text, 'Hi Bob, from the widget 😀')
    assert.deepEqual(a.client.pending(), [])
  })

  it('reconnects after the broker drops it, on its persistent session, and gets what came meanwhile', async () => {
    const a = peer(alice, 'alice-mini-2')
    const b = peer(bob, 'bob-mini-2')
    await Promise.all([a.client.connect(), b.client.connect()])
    const { cid } = await a.client.createConversation('direct', ['bob'])
    // Bob has caught up (the sync that follows a connect is done) before his connection is cut.
    await b.client.sync()
    kill('bob-mini-2')
    await waitFor(() => b.client.state === 'waiting', 2000, 'bob to notice')
    const sent = await a.client.send(cid, 'while you were away')
    await waitFor(() => b.messages.some((m) => m.id === sent.id), 8000, 'bob to get it after the reconnect')
    await sleep(300)
    assert.equal(b.messages.filter((m) => m.id === sent.id).length, 1)
    assert.deepEqual(b.events, ['connected:false', 'disconnected:true', 'connected:true'])
    // and it still sends after the reconnect
    const back = await b.client.send(cid, 'back again')
    await waitFor(() => a.messages.some((m) => m.id === back.id), 5000, 'alice to get it')
  })
})

describe('mini MQTT client against a scripted WebSocket server', () => {
  let server: WebSocketServer
  let url: string
  /** what the server does with each packet it receives */
  let script: (packet: Packet, send: (...packets: Packet[]) => void, raw: (frame: Uint8Array) => void) => void
  const received: Packet[] = []

  before(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (protocols) => protocols.has('mqtt') ? 'mqtt' : false })
    await new Promise<void>((resolve) => { server.once('listening', () => { resolve() }) })
    const address = server.address()
    url = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
    server.on('connection', (socket) => {
      const reader = new PacketReader()
      const raw = (frame: Uint8Array): void => { socket.send(frame) }
      const send = (...packets: Packet[]): void => { raw(Uint8Array.from(packets.flatMap((p) => [...encode(p)]))) }
      socket.on('message', (data: Buffer) => {
        for (const packet of reader.push(new Uint8Array(data))) { received.push(packet); script(packet, send, raw) }
      })
    })
  })
  after(async () => {
    for (const client of server.clients) client.terminate()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  })

  it('reads packets coalesced in one frame and split across frames, and acknowledges QoS 1 deliveries', async () => {
    received.length = 0
    const publish = (n: number, qos: 0 | 1): Packet => ({ type: 'publish', topic: `t/${n}`, payload: new TextEncoder().encode(`m${n}`), qos, dup: false, retain: false, ...(qos ? { messageId: n } : {}) })
    script = (packet, send, raw) => {
      if (packet.type !== 'connect') return
      // CONNACK and two publishes in one frame, then a third publish cut in three frames
      send({ type: 'connack', sessionPresent: false, returnCode: 0 }, publish(1, 1), publish(2, 0))
      const third = encode(publish(3, 1))
      raw(third.subarray(0, 1)); raw(third.subarray(1, 5)); raw(third.subarray(5))
    }
    const t = new MiniMqttTransport({ WebSocket: WS })
    const got: string[] = []
    t.on('message', (m) => got.push(`${m.topic}=${text(m.payload)}`))
    const closes: unknown[] = []
    t.on('close', (e) => closes.push(e))
    await t.connect(url, options('scripted-1'))
    await waitFor(() => got.length === 3, 3000, 'three messages')
    assert.deepEqual(got, ['t/1=m1', 't/2=m2', 't/3=m3'])
    await waitFor(() => received.filter((p) => p.type === 'puback').length === 2, 3000, 'two PUBACKs')
    assert.deepEqual(received.filter((p) => p.type === 'puback'), [{ type: 'puback', messageId: 1 }, { type: 'puback', messageId: 3 }])
    await t.end()
    await waitFor(() => received.some((p) => p.type === 'disconnect'), 3000, 'DISCONNECT')
    assert.equal(closes.length, 1, 'close once for the accepted connection')
  })

  it('closes the connection when no PINGRESP comes back, and fails the publish still waiting for its PUBACK', async () => {
    received.length = 0
    script = (packet, send) => {
      if (packet.type === 'connect') send({ type: 'connack', sessionPresent: true, returnCode: 0 })
      // never answers PINGREQ nor PUBACKs
    }
    const t = new MiniMqttTransport({ WebSocket: WS })
    const result = await t.connect(url, options('scripted-2', { keepalive: 1 }))
    assert.equal(result.sessionPresent, true)
    const closed = t.next('close')
    const publishing = t.publish('t/x', 'never acked', 1)
    const { error } = await closed
    assert.match(error?.message ?? '', /keepalive timeout/)
    await assert.rejects(publishing, ConnectionClosedError)
    assert.equal(t.connected, false)
    assert.ok(received.some((p) => p.type === 'pingreq'), 'it pinged')
    const ids = received.filter((p): p is Extract<Packet, { type: 'publish' }> => p.type === 'publish').map((p) => p.messageId)
    assert.deepEqual(ids, [1])
  })

  it('rejects connect when the CONNACK does not come in time', async () => {
    script = () => undefined
    const t = new MiniMqttTransport({ WebSocket: WS })
    await assert.rejects(t.connect(url, options('scripted-3', { connectTimeoutMs: 300 })), /no CONNACK within 300 ms/)
    assert.equal(t.connected, false)
  })
})

describe('mini MQTT client against Mosquitto', { skip: !mosquittoInstalled() && `SKIPPED LOUDLY: ${MOSQUITTO_BIN} is not installed (apt-get install mosquitto)` }, () => {
  let mosquitto: Mosquitto
  const transports: MiniMqttTransport[] = []
  const transport = (): MiniMqttTransport => { const t = new MiniMqttTransport({ WebSocket: WS }); transports.push(t); return t }

  before(async () => {
    if (!mosquittoInstalled()) {
      console.error(`\n!!! ${MOSQUITTO_BIN} is missing: the Mosquitto interoperability tests are SKIPPED !!!\n`)
      return
    }
    mosquitto = await startMosquitto()
  })
  after(async () => {
    await Promise.all(transports.map(async (t) => { await t.end() }))
    await mosquitto?.stop()
  })

  it('publishes and receives at QoS 0 and QoS 1, acknowledging what it receives', async () => {
    const sub = transport()
    const pub = transport()
    await sub.connect(mosquitto.wsUrl, options('mini-sub'))
    await pub.connect(mosquitto.wsUrl, options('mini-pub', { username: 'someone', password: 'ignored' }))
    const got: string[] = []
    sub.on('message', (m) => got.push(`${m.topic}=${text(m.payload)}`))
    assert.equal(await sub.subscribe('chat/+', 1), 1)
    assert.equal(await sub.subscribe('zero/#', 0), 0)
    await pub.publish('chat/q0', 'hello at QoS 0 — 你好', 0)
    await pub.publish('chat/q1', 'hello at QoS 1 😀', 1) // resolves on PUBACK
    await pub.publish('zero/q1', 'downgraded to QoS 0', 1)
    await waitFor(() => got.length === 3, 5000, 'three messages')
    assert.deepEqual(got.sort(), ['chat/q0=hello at QoS 0 — 你好', 'chat/q1=hello at QoS 1 😀', 'zero/q1=downgraded to QoS 0'])
    await waitFor(() => /Received PUBACK from mini-sub/.test(mosquitto.log()), 3000, 'mosquitto to get the PUBACK of the QoS 1 delivery')
    assert.match(mosquitto.log(), /Received PUBLISH from mini-pub \(d0, q1, r0, m1, 'chat\/q1'/)
  })

  it('keeps the connection alive with PINGREQ / PINGRESP', async () => {
    const t = transport()
    const closes: unknown[] = []
    t.on('close', (e) => closes.push(e))
    await t.connect(mosquitto.wsUrl, options('mini-ping', { keepalive: 1 }))
    await sleep(3500)
    const log = mosquitto.log()
    assert.match(log, /Received PINGREQ from mini-ping/)
    assert.match(log, /Sending PINGRESP to mini-ping/)
    assert.equal(t.connected, true)
    assert.deepEqual(closes, [])
    await t.end()
    await waitFor(() => /Received DISCONNECT from mini-ping/.test(mosquitto.log()), 3000, 'the DISCONNECT')
  })
})
