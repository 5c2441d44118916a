/**
 * What the MQTT persistence contract (mqtt-persistence.contract.ts) runs on: a fresh store per
 * test with a real aedes broker around the persistence (`setup(broker)` as aedes calls it:
 * aedes-persistence-mongodb learns subscriptions through the broker's `$SYS/sub/+` messages), and
 * the calls aedes makes — offline fan-out with `subscriptionsByTopic` then `outgoingEnqueueCombi`,
 * a queue drained as `emptyQueue` drains it (lib/handlers/connect.js), packets built by
 * aedes-packet with the broker's id and counter.
 */
import { Aedes } from 'aedes'
import Packet from 'aedes-packet'
import type { BoundedQueueOptions, DropReason } from '../../broker/persistence/bounded-queue.js'
import { ResumeGate } from '../../broker/persistence/resume-gate.js'
import type { SessionPersistence } from '../../broker/persistence/session-expiry.js'

export interface Sub { topic: string, qos: number }
export interface Stored { cmd?: string, topic: string, payload: Buffer, qos: number, retain?: boolean, brokerId: string, brokerCounter: number, messageId?: number, clientId?: string }
/** A client as aedes hands it to the persistence: its Client (`closed` until it closes), or `{ id, brokerId }` */
export type Client = { id: string, clean?: boolean, closed?: boolean, brokerId?: string }

/** aedes' persistence API as the contract calls it, and what the product adds. */
export interface ProductPersistence extends SessionPersistence {
  outgoingEnqueue (sub: { clientId: string }, packet: object): Promise<unknown>
  outgoingEnqueueCombi (subs: Array<{ clientId: string }>, packet: object): Promise<unknown>
  outgoingUpdate (client: Client, packet: object): Promise<unknown>
  outgoingClearMessageId (client: Client, packet: { messageId?: number }): Promise<unknown>
  outgoingStream (client: Client): AsyncIterable<unknown>
  addSubscriptions (client: Client, subs: Sub[]): Promise<unknown>
  removeSubscriptions (client: Client, topics: string[]): Promise<unknown>
  subscriptionsByClient (client: Client): Promise<Sub[]>
  subscriptionsByTopic (topic: string): Promise<Array<Sub & { clientId: string }>>
  cleanSubscriptions (client: Client): Promise<unknown>
  createRetainedStreamCombi (patterns: string[]): AsyncIterable<unknown>
  putWill (client: Client, packet: object): Promise<unknown>
  getWill (client: Client): Promise<unknown>
  delWill (client: Client): Promise<unknown>
  retainedOutside (prefix: string): AsyncIterable<{ topic: string, payload: Buffer }>
}

export interface PersistenceBackend {
  open (options: BoundedQueueOptions): ProductPersistence
  close (): Promise<void>
}

export interface Harness {
  p: ProductPersistence
  broker: Aedes
  drops: Array<[string, DropReason, string]>
  clock: { now: number }
  gate: ResumeGate
  /** a new broker and persistence on the same store, as after a restart */
  restart (): Promise<{ p: ProductPersistence, broker: Aedes }>
  /** message ids as aedes hands them out (never reused within a test, so no two are in flight) */
  nextId: number
}

let brokerSeq = 0

/** Contract tests a persistence is known to fail, by key, with the reason: run as `todo`. */
export interface KnownGaps {
  /** a message matched by several filters of one client takes one slot of its queue */
  oneSlotPerMessage?: string
  /** a message the full queue dropped can still be sent to the connected client */
  sendDropped?: string
}

/** Each test of the contract: `withStore(limits, test)` runs `test` on a fresh store (`limits` are the queue's). */
export type WithStore = (limits: { maxMessages?: number, maxAgeMs?: number }, test: (h: Harness) => Promise<void>) => () => Promise<void>

export function storesFrom (build: () => Promise<PersistenceBackend>): WithStore {
  return (limits, test) => async () => {
    const backend = await build()
    const brokers: Aedes[] = []
    try {
      const clock = { now: 1_000_000 }
      const drops: Harness['drops'] = []
      const gate = new ResumeGate()
      const options: BoundedQueueOptions = {
        resume: gate, maxMessages: limits.maxMessages ?? 100, maxAgeMs: limits.maxAgeMs ?? 3_600_000,
        now: () => clock.now, onDrop: (clientId, reason, topic) => { drops.push([clientId, reason, topic]) }
      }
      const open = async (): Promise<{ p: ProductPersistence, broker: Aedes }> => {
        const p = backend.open(options)
        // time-ordered ids, as the server's: a later broker's messages queue after an earlier one's [IM-Q-4]
        const broker = await Aedes.createBroker({ id: `b${String(++brokerSeq).padStart(15, '0')}`, persistence: p })
        brokers.push(broker)
        return { p, broker }
      }
      const { p, broker } = await open()
      await test({ p, broker, drops, clock, gate, restart: open, nextId: 1 })
    } finally {
      for (const broker of brokers) await new Promise<void>((resolve) => { broker.close(() => { resolve() }) })
      await backend.close()
    }
  }
}

/** A PUBLISH as aedes routes it: a new aedes-packet with the broker's id and next counter. */
export function message (broker: Aedes, topic: string, body = topic, qos = 1): Stored {
  return new Packet({ cmd: 'publish', topic, payload: Buffer.from(body), qos, retain: false }, broker) as unknown as Stored
}

export function retained (topic: string, body: string): { cmd: 'publish', topic: string, payload: Buffer, qos: number, retain: boolean } {
  return { cmd: 'publish', topic, payload: Buffer.from(body), qos: 1, retain: true }
}

/** Queues `packet` for these (offline) clients, as aedes' enqueueOffline does. */
export async function queue (p: ProductPersistence, clientIds: string[], packet: Stored): Promise<void> {
  await p.outgoingEnqueueCombi(clientIds.map((clientId) => ({ clientId, topic: packet.topic, qos: packet.qos })), packet)
}

/** aedes' offline fan-out: the stored subscriptions that match, then one enqueue. */
export async function fanOut (p: ProductPersistence, packet: Stored): Promise<void> {
  await p.outgoingEnqueueCombi(await p.subscriptionsByTopic(packet.topic), packet)
}

/**
 * A client's queue as aedes' `emptyQueue` sends it on CONNECT: each packet is asked about
 * (authorizeForward → the resume gate), keeps the id it was sent with before or gets the next
 * one (QoSPacket), and is recorded as sent with it (`outgoingUpdate`).
 */
export async function drain (h: Harness, p: ProductPersistence, client: Client): Promise<Stored[]> {
  const sent: Stored[] = []
  for await (const data of p.outgoingStream(client)) {
    const packet = await sendQueued(h, p, client, data as Stored)
    if (packet) sent.push(packet)
  }
  return sent
}

/**
 * One packet of a client's queue as `emptyQueue` sends it (lib/handlers/connect.js): numbered (a
 * QoSPacket keeps the id it was sent with before, or takes the next), recorded as sent
 * (`outgoingUpdate`), then asked about (authorizeForward → the resume gate); one that is refused
 * is cleared (`emptyQueueFilter`: `outgoingClearMessageId`). Resolves with the packet written, if it was.
 */
export async function sendQueued (h: Harness, p: ProductPersistence, client: Client, stored: Stored): Promise<Stored | undefined> {
  const packet = Object.assign(new Packet(stored, h.broker) as unknown as Stored, { messageId: stored.messageId || h.nextId++ })
  await p.outgoingUpdate(client, packet)
  if (h.gate.admit(client, packet)) return packet
  await p.outgoingClearMessageId(client, packet)
  return undefined
}

/**
 * A live delivery of `routed` (a message aedes has queued, then emits) to a connected persistent
 * client, as `deliverQoS` makes it (lib/client.js): a new aedes-packet (no message id) asked
 * about first; refused, it is cleared without an id; let through, it is numbered, recorded as
 * sent and written. Resolves with the packet written, if it was.
 */
export async function deliverLive (h: Harness, p: ProductPersistence, client: Client, routed: Stored): Promise<Stored | undefined> {
  const live = new Packet(routed, h.broker) as unknown as Stored
  if (!h.gate.admit(client, live)) {
    await p.outgoingClearMessageId(client, live)
    return undefined
  }
  const packet = Object.assign(new Packet(live, h.broker) as unknown as Stored, { messageId: h.nextId++ })
  await p.outgoingUpdate(client, packet).catch(() => undefined) // aedes writes it either way
  return packet
}

/** Lets writes that are not waited for (a sent id, a freed slot) land. */
export async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setTimeout(resolve, 20))
}

export async function byTopic (p: ProductPersistence, topic: string): Promise<Array<[string, string, number]>> {
  return (await p.subscriptionsByTopic(topic)).map((s): [string, string, number] => [s.clientId, s.topic, s.qos]).sort((a, b) => byBytes(a.join(' '), b.join(' ')))
}

/**
 * The subscriptions with QoS > 0 a message on `topic` is queued for. Whether a QoS 0 one is
 * among them is left open: aedes-persistence-level returns it when another client's filter
 * matches the topic, and both persistences return it after a restart.
 */
export async function queueingFor (p: ProductPersistence, topic: string): Promise<Array<[string, string, number]>> {
  return (await byTopic(p, topic)).filter(([, , qos]) => qos > 0)
}

export async function byClient (p: ProductPersistence, clientId: string): Promise<Array<[string, number]>> {
  return (await p.subscriptionsByClient({ id: clientId })).map((s): [string, number] => [s.topic, s.qos]).sort((a, b) => byBytes(a[0], b[0]))
}

export async function retainedPackets (p: ProductPersistence, patterns: string[]): Promise<Stored[]> {
  const out: Stored[] = []
  for await (const packet of p.createRetainedStreamCombi(patterns)) out.push(packet as Stored)
  return out
}

export async function retainedFor (p: ProductPersistence, patterns: string[]): Promise<Array<[string, string]>> {
  return (await retainedPackets(p, patterns)).map((m) => [m.topic, m.payload.toString()])
}

export function topics (packets: Stored[]): string[] {
  return packets.map((m) => m.topic)
}

export function payloads (packets: Stored[]): string[] {
  return packets.map((m) => m.payload.toString())
}

/** UTF-8 byte order: how both stores order keys. */
export function byBytes (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}
