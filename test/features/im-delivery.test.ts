/**
 * The delivery promise, end to end: a message that was acknowledged (PUBACK) is never lost, never
 * duplicated, and every device of every member ends up with the same ordered history — across
 * disconnects, `kill -9`, lost PUBACKs, retries and concurrent senders.
 * [IM-ACK-1] [IM-SEQ-1] [IM-IDEM-1] [IM-SYNC-1] [IM-SYNC-2] [IM-Q-1..5]
 *
 * Every client is real: MQTT.js over TCP, raw MQTT bytes where a PUBACK must be lost on purpose,
 * and broker child processes where one must be killed. The test-side `Device` does what a client
 * library must do ([IM-SYNC-1]): keep messages by `id`, order them by `seq`, and fill gaps over HTTP.
 */
import assert from 'node:assert/strict'
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { connect, type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import type { ConversationSummary, HistoryPage, ImEvent, Message, SendCommand } from '../../shared/protocol.js'
import { topics } from '../../shared/topics.js'
import { RestartableBroker, startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, type Principal } from '../helpers/http.js'
import { createConversation } from '../helpers/im.js'
import { heldAfter, Hold } from '../helpers/intercept.js'
import { closedByBroker, NO_RECONNECT, sleep, waitFor } from '../helpers/mqtt.js'
import { CONNECT, packet, rawTcp, type RawConnection } from '../helpers/raw.js'

/** How long to keep listening after the expected events, to catch duplicates and strays. */
const SETTLE_MS = 300
/** Small pages, so every sync in this file also exercises `more`. */
const PAGE = 7

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const cmids = (prefix: string, from: number, to: number): string[] => range(from, to).map((i) => `${prefix}${i}`)
const seqs = (messages: Message[]): number[] => messages.map((m) => m.seq)

function sendCommand (cid: string, cmid: string, text = cmid): SendCommand {
  return { op: 'send', cmid, cid, type: 'text', body: { text } }
}

// ---------------------------------------------------------------------------------------------
// HTTP history

/** Every message with seq > `after`, page by page until `more` is false. [IM-SYNC-1] */
async function fetchAfter (httpUrl: string, token: string, cid: string, after = 0): Promise<Message[]> {
  const all: Message[] = []
  for (;;) {
    const res = await api<HistoryPage>(httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=${after}&limit=${PAGE}`, undefined, token)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    all.push(...res.body.messages)
    if (!res.body.more) return all
    const last = res.body.messages.at(-1)
    assert.ok(last, '`more` with an empty page')
    after = last.seq
  }
}

async function lastSeqOf (httpUrl: string, token: string, cid: string): Promise<number> {
  const res = await api<{ conversations: ConversationSummary[] }>(httpUrl, 'GET', '/api/v1/conversations', undefined, token)
  assert.equal(res.status, 200)
  const conv = res.body.conversations.find((c) => c.cid === cid)
  assert.ok(conv, `${cid} is listed`)
  return conv.lastSeq
}

/** History holds seq 1..n, and each cmid once. */
function assertWellFormed (history: Message[], n: number, what: string): void {
  assert.deepEqual(seqs(history), range(1, n), `${what}: seq 1..${n} without gaps or repeats`)
  const keys = history.map((m) => `${m.from}!${m.cmid}`)
  assert.equal(new Set(keys).size, keys.length, `${what}: every cmid once`)
  assert.equal(new Set(history.map((m) => m.id)).size, n, `${what}: every id once`)
}

// ---------------------------------------------------------------------------------------------
// a device: one MQTT connection of one principal, keeping its messages like a client library

class Device {
  readonly who: Principal
  readonly clientId: string
  httpUrl: string
  client: MqttClient | undefined
  /** every `msg` event in arrival order, duplicates included */
  readonly arrivals: Message[] = []
  /** every event in arrival order */
  readonly events: ImEvent[] = []
  /** what went wrong in this device's view: two messages for one seq, one id with two contents */
  readonly conflicts: string[] = []
  readonly #byId = new Map<string, Message>()
  readonly #bySeq = new Map<string, Map<number, Message>>()

  constructor (httpUrl: string, who: Principal, clientId: string) {
    this.httpUrl = httpUrl
    this.who = who
    this.clientId = clientId
  }

  get inbox (): string { return topics.inbox(this.who.uid) }

  /**
   * Connects, with the listener in place before CONNECT (a persistent session's queue follows the
   * CONNACK at once), and subscribes to the inbox at QoS 1 unless the session already has it.
   * Resolves with the CONNACK's session-present flag.
   */
  async connect (mqttUrl: string, clean: boolean, options: IClientOptions = {}): Promise<boolean> {
    const client = connect(mqttUrl, { ...NO_RECONNECT, username: this.who.uid, password: this.who.token, clientId: this.clientId, clean, ...options })
    client.on('message', (topic, payload) => {
      if (topic !== this.inbox) return
      const event = JSON.parse(payload.toString()) as ImEvent
      this.events.push(event)
      if (event.ev === 'msg') { this.arrivals.push(event.msg); this.#keep(event.msg) }
    })
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve)
      client.once('error', (err) => { client.end(true); reject(err) })
    })
    client.on('error', () => undefined) // a killed broker resets the socket; `close` follows
    this.client = client
    if (!connack.sessionPresent) {
      const granted = await client.subscribeAsync(this.inbox, { qos: 1 })
      assert.equal(granted[0]?.qos, 1, `QoS 1 granted on ${this.inbox}`)
    }
    return connack.sessionPresent
  }

  async disconnect (): Promise<void> {
    await this.client?.endAsync()
    this.client = undefined
  }

  async close (): Promise<void> {
    await this.client?.endAsync(true)
    this.client = undefined
  }

  /** Resolves on the PUBACK. */
  async send (cid: string, cmid: string, text = cmid): Promise<void> {
    assert.ok(this.client, `${this.clientId} is connected`)
    await this.client.publishAsync(topics.outbox(this.who.uid), JSON.stringify(sendCommand(cid, cmid, text)), { qos: 1 })
  }

  arrivalsIn (cid: string): Message[] {
    return this.arrivals.filter((m) => m.cid === cid)
  }

  /** The device's history of `cid`, by seq, each message once. */
  timeline (cid: string): Message[] {
    return [...(this.#bySeq.get(cid)?.values() ?? [])].sort((a, b) => a.seq - b.seq)
  }

  /** The highest seq up to which the device has every message. */
  contiguous (cid: string): number {
    const have = this.#bySeq.get(cid)
    let n = 0
    while (have?.has(n + 1)) n++
    return n
  }

  hasGap (cid: string): boolean {
    const newest = Math.max(0, ...(this.#bySeq.get(cid)?.keys() ?? []))
    return newest > this.contiguous(cid)
  }

  async waitForMessages (cid: string, n: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.timeline(cid).length >= n, timeoutMs, `${this.clientId}: ${n} messages in ${cid}`).catch((err: Error) => {
      throw new Error(`${err.message}; has seq ${JSON.stringify(seqs(this.timeline(cid)))}`)
    })
  }

  /**
   * [IM-SYNC-1]: list the conversations, and for each whose `lastSeq` is ahead of what the device
   * holds without a gap, fetch `after=` that seq until `more` is false.
   */
  async sync (): Promise<{ lastSeq: Map<string, number>, fetched: Message[] }> {
    const res = await api<{ conversations: ConversationSummary[] }>(this.httpUrl, 'GET', '/api/v1/conversations', undefined, this.who.token)
    assert.equal(res.status, 200)
    const lastSeq = new Map<string, number>()
    const fetched: Message[] = []
    for (const conv of res.body.conversations) {
      lastSeq.set(conv.cid, conv.lastSeq)
      const from = this.contiguous(conv.cid)
      if (from < conv.lastSeq) fetched.push(...await fetchAfter(this.httpUrl, this.who.token, conv.cid, from))
    }
    for (const m of fetched) this.#keep(m)
    return { lastSeq, fetched }
  }

  #keep (message: Message): void {
    const known = this.#byId.get(message.id)
    if (known) {
      // A duplicate (QoS 1 redelivery, a retried cmid, or sync overlapping events) is dropped by id.
      if (JSON.stringify(known) !== JSON.stringify(message)) this.conflicts.push(`id ${message.id} seen with two contents`)
      return
    }
    const slots = this.#bySeq.get(message.cid) ?? new Map<number, Message>()
    this.#bySeq.set(message.cid, slots)
    const other = slots.get(message.seq)
    if (other) { this.conflicts.push(`seq ${message.seq} of ${message.cid} is both ${other.id} and ${message.id}`); return }
    slots.set(message.seq, message)
    this.#byId.set(message.id, message)
  }
}

function assertInSeqOrder (arrivals: Message[], what: string): void {
  assert.deepEqual(seqs(arrivals), [...seqs(arrivals)].sort((a, b) => a - b), `${what}: arrived in seq order`)
}

/** Every device holds exactly `history`, in order, and saw nothing inconsistent. */
function assertSameHistory (devices: Device[], cid: string, history: Message[]): void {
  for (const d of devices) {
    assert.deepEqual(d.conflicts, [], `${d.clientId}: no conflicting messages`)
    assert.deepEqual(d.timeline(cid), history, `${d.clientId}: the same ordered history as the server`)
  }
}

// ---------------------------------------------------------------------------------------------
// raw MQTT, for PUBACKs lost on purpose

function parsePackets (bytes: Buffer): mqttPacket.Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const packets: mqttPacket.Packet[] = []
  parser.on('packet', (p) => packets.push(p))
  parser.parse(bytes)
  return packets
}

/**
 * Opens a raw TCP connection, completes CONNECT/CONNACK and, when the session is new, subscribes
 * to the principal's inbox at QoS 1 like any IM client; resolves with session-present.
 */
async function rawSession (port: number, who: Principal, clientId: string, clean: boolean): Promise<{ conn: RawConnection, sessionPresent: boolean }> {
  const conn = await rawTcp(port)
  conn.write(CONNECT(clientId, { username: who.uid, password: Buffer.from(who.token), clean }))
  const connack = await waitFor(() => parsePackets(conn.received()).find((p): p is mqttPacket.IConnackPacket => p.cmd === 'connack'), 5000, 'CONNACK')
  assert.equal(connack.returnCode, 0, 'connection accepted')
  if (!connack.sessionPresent) {
    conn.write(packet({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: topics.inbox(who.uid), qos: 1 }] }))
    const suback = await waitFor(() => parsePackets(conn.received()).find((p): p is mqttPacket.ISubackPacket => p.cmd === 'suback'), 5000, 'SUBACK')
    assert.deepEqual(suback.granted, [1])
  }
  return { conn, sessionPresent: connack.sessionPresent }
}

function rawSend (uid: string, command: SendCommand, messageId: number, dup: boolean): Buffer {
  return packet({ cmd: 'publish', topic: topics.outbox(uid), payload: Buffer.from(JSON.stringify(command)), qos: 1, messageId, retain: false, dup })
}

/**
 * A TCP proxy in front of the broker that can lose the broker's next answer and cut the
 * connection, as a flaky network does. It records the PUBLISH packets the client sent.
 */
class LossyProxy {
  readonly publishes: mqttPacket.IPublishPacket[] = []
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  #loseNext = false

  private constructor (target: number) {
    this.#server = createServer((client) => {
      const upstream = netConnect(target, '127.0.0.1')
      const parser = mqttPacket.parser({ protocolVersion: 4 })
      parser.on('packet', (p) => { if (p.cmd === 'publish') this.publishes.push(p) })
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('error', () => undefined)
        s.on('close', () => { this.#sockets.delete(s); client.destroy(); upstream.destroy() })
      }
      client.on('data', (bytes: Buffer) => { parser.parse(bytes); upstream.write(bytes) })
      upstream.on('data', (bytes: Buffer) => {
        if (this.#loseNext) { this.#loseNext = false; client.destroy(); upstream.destroy(); return }
        client.write(bytes)
      })
    })
  }

  static async start (target: number): Promise<LossyProxy> {
    const proxy = new LossyProxy(target)
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  get url (): string { return `mqtt://127.0.0.1:${(this.#server.address() as AddressInfo).port}` }

  /** The broker's next bytes to the client are dropped, and both connections are cut. */
  loseNextAnswer (): void { this.#loseNext = true }

  async close (): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

// ---------------------------------------------------------------------------------------------
// tests

describe('IM delivery guarantees', () => {
  let broker: TestBroker
  const people: Record<string, Principal> = {}
  /** stored queues held after their first packet, by client id, for the test of backlog-before-live */
  const heldQueues = new Map<string, Hold>()
  const devices: Device[] = []
  const device = (who: string, clientId: string): Device => {
    const d = new Device(broker.httpUrl, people[who]!, clientId)
    devices.push(d)
    return d
  }

  before(async () => {
    broker = await startTestBroker({}, undefined, {
      queue: (clientId, stored) => {
        const hold = heldQueues.get(clientId)
        return hold ? heldAfter(stored, 1, hold) : stored
      }
    })
    const admin = await adminToken(broker.httpUrl)
    const uids = ['alice', 'bob', 'carol', 'dave', 'erin', 'sam', 'tia', 'uma', 'vic', 'rita']
    for (const p of await Promise.all(uids.map(async (uid) => await createUser(broker.httpUrl, admin, uid)))) people[p.uid] = p
  })
  after(async () => {
    await Promise.all(devices.map(async (d) => { await d.close() }))
    await broker.stop()
  })

  it('delivers every msg event queued for an offline persistent session exactly once, in seq order', async () => {
    const cid = await createConversation(broker.httpUrl, people.alice!.token, 'direct', ['bob'])
    const phone = device('bob', 'bob-phone-a')
    assert.equal(await phone.connect(broker.mqttUrl, false), false, 'a new session')
    await phone.disconnect()

    // 25 sends fired together on one connection: all acknowledged while bob is away.
    const sender = device('alice', 'alice-a')
    await sender.connect(broker.mqttUrl, true)
    await Promise.all(cmids('a', 1, 25).map(async (cmid) => { await sender.send(cid, cmid) }))

    assert.equal(await phone.connect(broker.mqttUrl, false), true, 'the session was kept') // [MQTT-3.2.2-2]
    await phone.waitForMessages(cid, 25)
    await sleep(SETTLE_MS)
    const history = await fetchAfter(broker.httpUrl, people.bob!.token, cid)
    assertWellFormed(history, 25, 'history')
    assert.deepEqual(history.map((m) => m.cmid), cmids('a', 1, 25), 'one sender: seq follows the order of its commands')
    assert.deepEqual(phone.arrivalsIn(cid), history, 'every queued event once, in seq order')
    assertSameHistory([phone, sender], cid, history)

    // Every event was acknowledged: the next session start redelivers none of them.
    await phone.disconnect()
    assert.equal(await phone.connect(broker.mqttUrl, false), true)
    await sleep(SETTLE_MS)
    assert.equal(phone.arrivalsIn(cid).length, 25, 'nothing redelivered')
  })

  it('stores a send whose PUBACK was lost once, and answers its retry with the original message', async () => {
    const cid = await createConversation(broker.httpUrl, people.alice!.token, 'direct', ['carol'])
    const carol = device('carol', 'carol-c')
    await carol.connect(broker.mqttUrl, true)

    // A raw connection sends the command and is gone before the PUBACK can be read.
    const { conn } = await rawSession(broker.server.ports.mqtt, people.alice!, 'alice-raw', true)
    conn.write(rawSend('alice', sendCommand(cid, 'lost-1', 'first'), 1, false))
    conn.destroy()
    await carol.waitForMessages(cid, 1)
    const [original] = await fetchAfter(broker.httpUrl, people.alice!.token, cid)
    assert.ok(original)
    assert.equal(original.cmid, 'lost-1')

    // The sender never saw a PUBACK: it sends the same cmid again (its text changed, even).
    const alice = device('alice', 'alice-c')
    await alice.connect(broker.mqttUrl, true)
    await alice.send(cid, 'lost-1', 'retry')
    await alice.waitForMessages(cid, 1)
    assert.deepEqual(alice.arrivalsIn(cid), [original], 'the echo carries the original id, seq and body')

    // The retry used no seq: the next message is 2.
    await alice.send(cid, 'next-1')
    await carol.waitForMessages(cid, 2)
    await sleep(SETTLE_MS)
    const history = await fetchAfter(broker.httpUrl, people.carol!.token, cid)
    assertWellFormed(history, 2, 'history')
    assert.deepEqual(history[0], original)
    // [IM-IDEM-1] the retry sends the original again to every member; carol drops the copy by id.
    assert.deepEqual(carol.arrivalsIn(cid), [original, original, history[1]])
    assertSameHistory([carol, alice], cid, history)
  })

  it('stores a PUBLISH retransmitted with DUP=1 on a resumed persistent session once', async () => {
    const cid = await createConversation(broker.httpUrl, people.alice!.token, 'direct', ['dave'])
    const port = broker.server.ports.mqtt
    const first = await rawSession(port, people.alice!, 'alice-dup', false)
    first.conn.write(rawSend('alice', sendCommand(cid, 'dup-1'), 42, false))
    first.conn.destroy()

    // [MQTT-4.4.0-1] on reconnecting with clean=false the client re-sends the unacknowledged
    // PUBLISH with its packet identifier, and [MQTT-3.3.1-1] the DUP flag set.
    const again = await rawSession(port, people.alice!, 'alice-dup', false)
    assert.equal(again.sessionPresent, true)
    again.conn.write(rawSend('alice', sendCommand(cid, 'dup-1'), 42, true))
    await waitFor(() => parsePackets(again.conn.received()).some((p) => p.cmd === 'puback' && p.messageId === 42), 5000, 'PUBACK 42')
    const history = await fetchAfter(broker.httpUrl, people.dave!.token, cid)
    assertWellFormed(history, 1, 'history')
    assert.equal(history[0]?.cmid, 'dup-1')

    // The resumed session gets the echo (queued for it, or sent again for the retry): always the one message.
    const echoes = (): Message[] => parsePackets(again.conn.received())
      .flatMap((p) => p.cmd === 'publish' ? [JSON.parse(String(p.payload)) as ImEvent] : [])
      .flatMap((e) => e.ev === 'msg' && e.msg.cid === cid ? [e.msg] : [])
    await waitFor(() => echoes().length > 0, 5000, 'the echo')
    again.conn.destroy()
    for (const echo of echoes()) assert.deepEqual(echo, history[0])
  })

  it('stores a PUBLISH that MQTT.js re-sends after a lost PUBACK once', async (t) => {
    const cid = await createConversation(broker.httpUrl, people.alice!.token, 'group', ['dave'], 'resend')
    const dave = device('dave', 'dave-r')
    await dave.connect(broker.mqttUrl, true)
    const proxy = await LossyProxy.start(broker.server.ports.mqtt)
    t.after(async () => { await proxy.close() })
    // A persistent session with automatic reconnection: MQTT.js keeps the unacknowledged PUBLISH
    // in its outgoing store and sends it again, same packet identifier, once it is back. (MQTT.js
    // 5.16 leaves DUP at 0 on that resend, unlike [MQTT-3.3.1-1]; the test above sends DUP=1.)
    const alice = device('alice', 'alice-resend')
    await alice.connect(proxy.url, false, { reconnectPeriod: 100 })
    let reconnects = 0
    alice.client!.on('reconnect', () => { reconnects++ })

    proxy.loseNextAnswer()
    await alice.send(cid, 'resend-1') // resolves on the PUBACK of the second attempt
    assert.ok(reconnects >= 1, 'the connection was cut and restored')
    const sent = proxy.publishes.filter((p) => p.topic === topics.outbox('alice'))
    assert.equal(sent.length, 2, 'sent twice')
    assert.equal(sent[0]?.messageId, sent[1]?.messageId, 'the retransmission reuses the packet identifier')
    assert.equal(String(sent[0]?.payload), String(sent[1]?.payload))

    await dave.waitForMessages(cid, 1)
    await alice.waitForMessages(cid, 1)
    // The echo of the retransmission reaches dave a moment after the first copy (later still on a
    // busy machine): wait for it, then settle to catch any third copy.
    await waitFor(() => dave.arrivalsIn(cid).length >= 2, 10_000, 'dave gets the re-sent event')
    await sleep(SETTLE_MS)
    const history = await fetchAfter(broker.httpUrl, people.dave!.token, cid)
    assertWellFormed(history, 1, 'history')
    assert.equal(history[0]?.cmid, 'resend-1')
    assert.deepEqual(dave.arrivalsIn(cid), [history[0], history[0]], 'sent again to every member, the same event [IM-IDEM-1]')
    assertSameHistory([dave, alice], cid, history)
  })

  it('numbers concurrent sends from many senders and connections 1..200, each once, the same for every recipient', async () => {
    const senders = ['sam', 'tia', 'uma', 'vic']
    const cid = await createConversation(broker.httpUrl, people.sam!.token, 'group', [...senders, 'rita'], 'busy')
    // Two connections per sender (phone and laptop), and a member who only reads.
    const connections = senders.flatMap((uid) => [device(uid, `${uid}-phone`), device(uid, `${uid}-laptop`)])
    const reader = device('rita', 'rita-d')
    await Promise.all([...connections, reader].map(async (d) => await d.connect(broker.mqttUrl, true)))

    // 4 senders × 50 sends, split over their two connections, nothing awaited in between.
    const order = new Map<Device, string[]>(connections.map((d) => [d, []]))
    const sends: Array<Promise<void>> = []
    for (const uid of senders) {
      for (let i = 1; i <= 50; i++) {
        const d = connections.find((c) => c.clientId === `${uid}-${i % 2 === 0 ? 'phone' : 'laptop'}`)!
        const cmid = `${uid}-${i}`
        order.get(d)!.push(cmid)
        sends.push(d.send(cid, cmid))
      }
    }
    await Promise.all(sends)

    const history = await fetchAfter(broker.httpUrl, people.rita!.token, cid)
    assertWellFormed(history, 200, 'history')
    assert.deepEqual(history.map((m) => m.cmid).sort(), senders.flatMap((uid) => cmids(`${uid}-`, 1, 50)).sort(), 'every cmid exactly once')
    for (const m of history) assert.ok(m.cmid.startsWith(`${m.from}-`), 'the sender is the one who sent it')
    // One connection's commands are handled in the order they arrive. [IM-CMD-1]
    const seqOf = new Map(history.map((m) => [`${m.from}!${m.cmid}`, m.seq]))
    for (const [d, sent] of order) {
      const mine = sent.map((cmid) => seqOf.get(`${d.who.uid}!${cmid}`)!)
      assert.deepEqual(mine, [...mine].sort((a, b) => a - b), `${d.clientId}: seq follows its own order`)
    }

    for (const d of [...connections, reader]) await d.waitForMessages(cid, 200)
    await sleep(SETTLE_MS)
    // Every event once, and in seq order as they arrive, whoever sent them. [IM-SYNC-2]
    for (const d of [...connections, reader]) assert.deepEqual(d.arrivalsIn(cid), history, `${d.clientId}: the history, event by event`)
  })

  it('lets a device whose persistent session was lost catch up over HTTP', async () => {
    const cid = await createConversation(broker.httpUrl, people.alice!.token, 'group', ['erin'], 'lost session')
    const alice = device('alice', 'alice-e')
    await alice.connect(broker.mqttUrl, true)
    const phone = device('erin', 'erin-phone')
    await phone.connect(broker.mqttUrl, false)
    for (const cmid of cmids('e', 1, 3)) await alice.send(cid, cmid)
    await phone.waitForMessages(cid, 3)
    await phone.disconnect()
    for (const cmid of cmids('e', 4, 8)) await alice.send(cid, cmid) // queued for the session…

    // …which the device gives up: a clean session starts empty, the queued events are gone.
    assert.equal(await phone.connect(broker.mqttUrl, true), false)
    await sleep(SETTLE_MS)
    assert.deepEqual(seqs(phone.arrivalsIn(cid)), [1, 2, 3], 'nothing of the old queue')
    await alice.send(cid, 'e9')
    await phone.waitForMessages(cid, 4)
    assert.ok(phone.hasGap(cid), 'seq 9 after seq 3: a gap')

    const { lastSeq, fetched } = await phone.sync()
    assert.equal(lastSeq.get(cid), 9)
    assert.deepEqual(seqs(fetched.filter((m) => m.cid === cid)), range(4, 9), 'fetched after=3')
    const history = await fetchAfter(broker.httpUrl, people.erin!.token, cid)
    assertWellFormed(history, 9, 'history')
    assertSameHistory([phone, alice], cid, history)
  })

  it('gives every device of every member the same ordered history', async () => {
    const cid = await createConversation(broker.httpUrl, people.bob!.token, 'group', ['alice', 'carol'], 'devices')
    const alicePhone = device('alice', 'alice-phone-f')
    const aliceLaptop = device('alice', 'alice-laptop-f')
    const bobPhone = device('bob', 'bob-phone-f')
    const bobLaptop = device('bob', 'bob-laptop-f')
    const carol = device('carol', 'carol-f')
    const all = [alicePhone, aliceLaptop, bobPhone, bobLaptop, carol]
    await Promise.all(all.map(async (d) => await d.connect(broker.mqttUrl, d === bobPhone ? false : true)))
    const burst = async (...batches: Array<[Device, string[]]>): Promise<void> => {
      await Promise.all(batches.flatMap(([d, ids]) => ids.map(async (cmid) => { await d.send(cid, cmid) })))
    }

    await burst([alicePhone, cmids('ap', 1, 5)], [carol, cmids('c', 1, 5)], [bobLaptop, cmids('bl', 1, 3)])
    await bobPhone.waitForMessages(cid, 13)
    await bobPhone.disconnect() // bob's phone goes away; its session keeps what comes next
    await burst([aliceLaptop, cmids('al', 1, 5)], [carol, cmids('c', 6, 10)], [bobLaptop, cmids('bl', 4, 6)])
    assert.equal(await bobPhone.connect(broker.mqttUrl, false), true)
    await burst([alicePhone, cmids('ap', 6, 8)], [aliceLaptop, cmids('al', 6, 8)], [bobPhone, cmids('bp', 1, 4)], [carol, cmids('c', 11, 12)])

    const total = 13 + 13 + 12
    for (const d of all) await d.waitForMessages(cid, total)
    await sleep(SETTLE_MS)
    for (const d of all) {
      const { lastSeq, fetched } = await d.sync()
      assert.equal(lastSeq.get(cid), total)
      assert.deepEqual(fetched.filter((m) => m.cid === cid), [], `${d.clientId}: the events alone were complete`)
    }
    const history = await fetchAfter(broker.httpUrl, people.carol!.token, cid)
    assertWellFormed(history, total, 'history')
    assertSameHistory(all, cid, history)
    for (const d of all) assert.equal(d.arrivalsIn(cid).length, total, `${d.clientId}: each event once`)
    // A connected device receives the conversation's events in seq order [IM-SYNC-2]… (the
    // resumed session of bob's phone is the subject of the next test)
    for (const d of all.filter((x) => x !== bobPhone)) assertInSeqOrder(d.arrivalsIn(cid), d.clientId)
    // …and a resumed session receives its backlog (seq 14..26) in order.
    assertInSeqOrder(bobPhone.arrivalsIn(cid).filter((m) => m.seq > 13 && m.seq <= 26), 'bob-phone-f, its queue')
  })

  // [IM-SYNC-2]: "a gap means a message was missed, not merely reordered" — also for a device
  // that resumes its session while the conversation goes on.
  it('delivers a resumed session\'s backlog before the events that follow it', async () => {
    const cid = await createConversation(broker.httpUrl, people.alice!.token, 'direct', ['erin'])
    const phone = device('erin', 'erin-phone-o')
    await phone.connect(broker.mqttUrl, false)
    await phone.disconnect()
    const alice = device('alice', 'alice-o')
    await alice.connect(broker.mqttUrl, true)
    for (const cmid of cmids('o', 1, 30)) await alice.send(cid, cmid)
    // Erin's phone comes back, and its queue streams slowly: it stops after the first packet…
    const backlog = new Hold()
    heldQueues.set(phone.clientId, backlog)
    assert.equal(await phone.connect(broker.mqttUrl, false), true)
    await backlog.reached
    // …while alice keeps talking. Each PUBACK means the event went to erin's session: a live
    // delivery let through would be on its way to the phone before the rest of the backlog.
    for (const cmid of cmids('o', 31, 40)) await alice.send(cid, cmid)
    backlog.release()
    await phone.waitForMessages(cid, 40)
    await sleep(SETTLE_MS)
    assert.deepEqual(seqs(phone.arrivalsIn(cid)), range(1, 40), 'the queued events, then the new ones, in seq order [IM-SYNC-2] [MQTT-4.6.0-6]')
  })
})

describe('IM delivery with a bounded offline queue (QUEUE_MAX_MESSAGES=5)', () => {
  let broker: TestBroker
  const devices: Device[] = []
  before(async () => { broker = await startTestBroker({ QUEUE_MAX_MESSAGES: 5 }) })
  after(async () => {
    await Promise.all(devices.map(async (d) => { await d.close() }))
    await broker.stop()
  })

  it('delivers the first 5 of 12 from the queue and the rest through sync, each once', async () => {
    const admin = await adminToken(broker.httpUrl)
    const [alice, bob] = await Promise.all(['alice', 'bob'].map(async (uid) => await createUser(broker.httpUrl, admin, uid)))
    const cid = await createConversation(broker.httpUrl, alice!.token, 'direct', ['bob'])
    const sender = new Device(broker.httpUrl, alice!, 'alice-q')
    const phone = new Device(broker.httpUrl, bob!, 'bob-q')
    devices.push(sender, phone)
    // Bob is online while alice's presence is announced, so his queue holds nothing but the
    // messages sent while he is away.
    await phone.connect(broker.mqttUrl, false)
    await sender.connect(broker.mqttUrl, true)
    await waitFor(() => phone.events.some((e) => e.ev === 'presence' && e.uid === 'alice' && e.online), 5000, 'alice\'s presence on bob\'s phone')
    await phone.disconnect()
    for (const cmid of cmids('q', 1, 12)) await sender.send(cid, cmid)

    assert.equal(await phone.connect(broker.mqttUrl, false), true)
    await phone.waitForMessages(cid, 5)
    await sleep(SETTLE_MS)
    assert.deepEqual(seqs(phone.arrivalsIn(cid)), [1, 2, 3, 4, 5], 'the queue kept the oldest 5 (tail drop)')

    const { lastSeq, fetched } = await phone.sync()
    assert.equal(lastSeq.get(cid), 12, 'GET /api/v1/conversations shows what is missing')
    assert.deepEqual(seqs(fetched), range(6, 12), 'fetched after=5')
    const history = await fetchAfter(broker.httpUrl, bob!.token, cid)
    assertWellFormed(history, 12, 'history')
    assertSameHistory([phone, sender], cid, history)
    assert.equal(await lastSeqOf(broker.httpUrl, bob!.token, cid), 12)
  })
})

describe('IM delivery across kill -9', () => {
  it('loses no acknowledged message and duplicates none when the broker is killed right after the PUBACKs', async (t) => {
    const node = new RestartableBroker()
    const devices: Device[] = []
    t.after(async () => {
      await Promise.all(devices.map(async (d) => { await d.close() }))
      await node.dispose()
    })
    await node.start()
    const admin = await adminToken(node.broker.httpUrl)
    const [alice, bob] = await Promise.all(['alice', 'bob'].map(async (uid) => await createUser(node.broker.httpUrl, admin, uid)))
    const cid = await createConversation(node.broker.httpUrl, alice!.token, 'direct', ['bob'])
    const phone = new Device(node.broker.httpUrl, bob!, 'bob-k')
    devices.push(phone)
    await phone.connect(node.broker.mqttUrl, false)
    await phone.disconnect()

    // 1. Ten sends, each acknowledged before the next; SIGKILL the moment the last PUBACK is in.
    const sender = new Device(node.broker.httpUrl, alice!, 'alice-k')
    devices.push(sender)
    await sender.connect(node.broker.mqttUrl, true)
    for (const cmid of cmids('k', 1, 9)) await sender.send(cid, cmid)
    await new Promise<void>((resolve, reject) => {
      sender.client!.publish(topics.outbox('alice'), JSON.stringify(sendCommand(cid, 'k10')), { qos: 1 }, (err) => {
        if (err) { reject(err); return }
        node.killNow()
        resolve()
      })
    })
    assert.equal(await node.broker.exited, 'SIGKILL')
    await sender.close()

    await node.start()
    const afterCrash = await fetchAfter(node.broker.httpUrl, bob!.token, cid)
    assertWellFormed(afterCrash, 10, 'history after kill -9')
    assert.deepEqual(afterCrash.map((m) => m.cmid), cmids('k', 1, 10), 'history holds exactly the acknowledged messages')

    phone.httpUrl = node.broker.httpUrl
    assert.equal(await phone.connect(node.broker.mqttUrl, false), true, 'the session survived kill -9')
    await phone.waitForMessages(cid, 10)
    await sleep(SETTLE_MS)
    assert.deepEqual(phone.arrivalsIn(cid), afterCrash, 'every acknowledged message was queued, once, in order')
    assert.deepEqual((await phone.sync()).fetched, [], 'nothing left to fetch') // bob has no other conversation
    await phone.disconnect()

    // 2. Twenty sends in flight; SIGKILL at the 8th PUBACK. Whatever was acknowledged is kept;
    // the sender retries the rest with the same cmids after the restart.
    const burst = cmids('f', 1, 20)
    const acked = new Set<string>()
    const again = new Device(node.broker.httpUrl, alice!, 'alice-k2')
    devices.push(again)
    await again.connect(node.broker.mqttUrl, true)
    await new Promise<void>((resolve) => {
      for (const cmid of burst) {
        again.client!.publish(topics.outbox('alice'), JSON.stringify(sendCommand(cid, cmid)), { qos: 1 }, (err) => {
          if (err) return // lost with the connection: not acknowledged
          acked.add(cmid)
          if (acked.size === 8) { node.killNow(); resolve() }
        })
      }
    })
    assert.equal(await node.broker.exited, 'SIGKILL')
    await closedByBroker(again.client!) // PUBACKs already on the wire still count as acknowledged
    await again.close()
    const acknowledged = [...acked]

    await node.start()
    const stored = await fetchAfter(node.broker.httpUrl, alice!.token, cid)
    assertWellFormed(stored, stored.length, 'history after the second kill -9')
    const storedCmids = stored.map((m) => m.cmid)
    for (const cmid of acknowledged) assert.ok(storedCmids.includes(cmid), `acknowledged ${cmid} was kept`)
    assert.deepEqual(storedCmids, [...cmids('k', 1, 10), ...burst.slice(0, stored.length - 10)], 'what was stored is the head of what was sent, in order')

    // The sender retries every send it has no PUBACK for.
    const retry = new Device(node.broker.httpUrl, alice!, 'alice-k3')
    devices.push(retry)
    await retry.connect(node.broker.mqttUrl, true)
    for (const cmid of burst.filter((c) => !acked.has(c))) await retry.send(cid, cmid)
    const history = await fetchAfter(node.broker.httpUrl, alice!.token, cid)
    assertWellFormed(history, 30, 'history after the retries')
    assert.deepEqual(history.map((m) => m.cmid), [...cmids('k', 1, 10), ...burst])
    for (const m of stored) assert.deepEqual(history[m.seq - 1], m, `a retry did not change seq ${m.seq}`)

    // Bob's phone gets everything from its queue and sync, each message once.
    phone.httpUrl = node.broker.httpUrl
    assert.equal(await phone.connect(node.broker.mqttUrl, false), true)
    await sleep(SETTLE_MS)
    await phone.sync()
    await phone.waitForMessages(cid, 30)
    assertSameHistory([phone], cid, history)
    for (const m of phone.arrivalsIn(cid)) assert.deepEqual(m, history[m.seq - 1], 'every event matches history')
  })
})
