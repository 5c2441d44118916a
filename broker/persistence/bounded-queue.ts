/**
 * aedes-persistence-level, with bounded offline queues. [IM-Q-1..3]
 *
 * Policy (documented in docs/operations.md):
 * - A client's queue holds at most `maxMessages`. When it is full, a message for that offline
 *   client is not queued (tail drop): the oldest messages stay, so what the client receives is a
 *   prefix of what it missed, and the `seq` gap tells it to fetch the rest over HTTP.
 * - A queued message older than `maxAgeMs` is dropped when the queue is delivered.
 * - Every drop is counted (`mqtt_queue_dropped_total{reason}`) and reported through `onDrop`.
 *
 * Each queued message gets a small index entry (enqueue time) in a sublevel of our own; the count
 * per client is kept in memory, read from that index the first time a client is touched.
 */
import { Readable } from 'node:stream'
import type { AbstractSublevel } from 'abstract-level'
import AsyncLevelPersistence from 'aedes-persistence-level/asyncPersistence.js'
import type { RootDb } from '../store/level/open.js'
import { subscriptionsForTopic } from './dollar-topics.js'
import { InflightIds, SentIds } from './inflight-ids.js'
import { encodeQueued, encodeSent, indexKey, outgoingIdKey, outgoingKey, type QueuedPacket } from './queue-keys.js'
import { retainedFor, retainedOutside } from './retained-lookup.js'
import type { ResumeGate } from './resume-gate.js'
import { writeBatchOf, type WriteBatch } from '../store/level/write-batch.js'
import { WillKeeper, type WillClient } from './will-keeper.js'

type Sublevel = AbstractSublevel<RootDb, string | Buffer | Uint8Array, string, string>

export type DropReason = 'full' | 'expired'

export interface BoundedQueueOptions {
  /** holds live deliveries back while a resumed session's queue is streamed */
  resume: ResumeGate
  maxMessages: number
  maxAgeMs: number
  now: () => number
  onDrop: (clientId: string, reason: DropReason, topic: string) => void
}

/** the map keys of one stored packet */
const storedKey = (packet: Pick<QueuedPacket, 'brokerId' | 'brokerCounter'>): string => `${packet.brokerId}:${packet.brokerCounter}`

export class BoundedLevelPersistence extends AsyncLevelPersistence {
  readonly #mqtt: Sublevel
  readonly #index: Sublevel
  readonly #options: BoundedQueueOptions
  readonly #counts = new Map<string, Promise<{ n: number }>>()
  readonly #inflight = new InflightIds<QueuedPacket>()
  readonly #sent = new SentIds()
  readonly #batch: WriteBatch
  readonly #wills = new WillKeeper()

  constructor (root: RootDb, options: BoundedQueueOptions) {
    const mqtt = root.sublevel<string, string>('mqtt', {})
    super(mqtt)
    this.#mqtt = mqtt
    this.#index = root.sublevel<string, string>('mqtt-queue', {})
    this.#options = options
    this.#batch = writeBatchOf(root)
  }

  /** (will-keeper.ts) */
  override async putWill (client: WillClient, packet: object): Promise<void> {
    await this.#wills.put(client, async () => { await super.putWill(client, packet) })
  }

  /**
   * Not a will that a connection that took the client id over stored since, nor one another
   * broker stored (will-keeper.ts); else as aedes-persistence-level: the will deleted, if any.
   */
  override async delWill (client: WillClient): Promise<unknown> {
    return await this.#wills.del(client, async () => {
      const stored = client.brokerId === undefined ? undefined : await super.getWill(client) as { brokerId?: string } | undefined
      if (stored !== undefined && stored.brokerId !== client.brokerId) return undefined
      return await super.delWill(client)
    })
  }

  /** Online persistent clients: always queued (aedes delivers it at once). */
  override async outgoingEnqueue (sub: { clientId: string }, packet: QueuedPacket): Promise<void> {
    const cell = await this.#count(sub.clientId)
    cell.n++
    await this.#store(cell, sub, packet)
  }

  /** Offline clients: queued unless the client's queue is full. */
  override async outgoingEnqueueCombi (subs: Array<{ clientId: string }>, packet: QueuedPacket): Promise<void> {
    if (!subs || subs.length === 0) return
    // One copy per client, however many of its filters match: one message, one slot.
    const clients = [...new Map(subs.map((sub) => [sub.clientId, sub])).values()]
    await Promise.all(clients.map(async (sub) => {
      const cell = await this.#count(sub.clientId)
      // Check and take the slot with no `await` in between: aedes handles the packets of one
      // TCP chunk (and of many publishers) concurrently, and they must not all see room.
      if (cell.n >= this.#options.maxMessages) {
        this.#options.onDrop(sub.clientId, 'full', packet.topic)
        return
      }
      cell.n++
      await this.#store(cell, sub, packet)
    }))
  }

  /**
   * A stored packet is sent with a message id: aedes keeps `outgoing-id:{id}` → packet, so a PUBACK
   * finds it after a restart. When this process knows the id the packet had before (it queued or
   * streamed it), the keys are replaced in the turn's batch without a read, and without waiting:
   * the PUBACK path reads memory, batches are written in order (the PUBACK's deletes after these
   * puts), and should the broker die first the packet is simply sent again — a duplicate QoS 1
   * allows, never a loss. Otherwise aedes-persistence-level does it with its reads. [IM-PERF-1]
   */
  override async outgoingUpdate (client: { id: string }, packet: QueuedPacket & { payload?: unknown, cmd?: string }): Promise<void> {
    if (packet.brokerId === undefined && packet.messageId !== undefined) {
      // a PUBREL replacing its PUBLISH (QoS 2): the in-flight table knows which packet it was
      const inflight = this.#inflight.peek(client.id, packet.messageId)
      if (inflight) Object.assign(packet, { brokerId: inflight.brokerId, brokerCounter: inflight.brokerCounter })
    }
    const previous = packet.brokerId === undefined ? undefined : this.#sent.get(client.id, storedKey(packet))
    let stored = true
    if (previous === undefined || packet.messageId === undefined) {
      try {
        await super.outgoingUpdate(client, packet)
      } catch (err) {
        // Not stored: a message the client's full queue dropped (counted then), sent live now that
        // it is here. It goes out in flight, known in memory only, and holds no slot.
        if (!(err instanceof Error && err.message === 'no such packet') || packet.brokerId === undefined) throw err
        stored = false
      }
    } else {
      const value = encodeSent(packet)
      void this.#batch.write([
        ...(previous > 0 && previous !== packet.messageId ? [{ type: 'del' as const, sublevel: this.#mqtt, key: outgoingIdKey(client.id, previous) }] : []),
        { type: 'put', sublevel: this.#mqtt, key: outgoingIdKey(client.id, packet.messageId), value, valueEncoding: 'buffer' },
        { type: 'put', sublevel: this.#mqtt, key: outgoingKey(client.id, packet), value, valueEncoding: 'buffer' }
      ]).catch(() => undefined) // a lost write means a resend, as after a crash
    }
    const { topic, brokerId, brokerCounter, qos, messageId } = packet
    if (messageId !== undefined && brokerId !== undefined) {
      this.#sent.set(client.id, storedKey(packet), messageId)
      this.#inflight.remember(client.id, messageId, { topic, brokerId, brokerCounter, qos, messageId, ...(stored ? {} : { unstored: true }) })
    }
  }

  /**
   * A PUBACK: the packet goes from the queue. The packets in flight on this process's connections
   * are known in memory, and their keys are deleted in the turn's batch without a read; a clean
   * session has nothing stored but what this process streamed to it, so an unknown id there
   * touches no disk. Only an id of a persistent session that is not in memory is looked up. [IM-PERF-1]
   */
  override async outgoingClearMessageId (client: { id: string, clean?: boolean }, packet: { messageId: number }): Promise<QueuedPacket | undefined> {
    const known = this.#inflight.take(client.id, packet.messageId)
    if (known?.unstored === true) return known
    if (known) {
      this.#release(client.id)
      this.#sent.delete(client.id, storedKey(known))
      await this.#batch.write([
        { type: 'del', sublevel: this.#mqtt, key: outgoingIdKey(client.id, packet.messageId) },
        { type: 'del', sublevel: this.#mqtt, key: outgoingKey(client.id, known) },
        { type: 'del', sublevel: this.#index, key: indexKey(client.id, known) }
      ])
      return known
    }
    if (client.clean === true) return undefined
    const removed = await super.outgoingClearMessageId(client, packet) as QueuedPacket | undefined
    if (removed) await this.#forget(client.id, removed)
    return removed
  }

  /**
   * The retained messages for a SUBSCRIBE's filters, read by key or key range, not by scanning
   * every retained message (retained-lookup.ts); no `$` topic for `#` or `+/…` [MQTT-4.7.2-1].
   */
  override createRetainedStreamCombi (patterns: string[]): Readable {
    return Readable.from(retainedFor(this.#mqtt, patterns))
  }

  /** Every retained message outside `{prefix}/` (retained-lookup.ts). */
  retainedOutside (prefix: string): AsyncIterable<{ topic: string, payload: Buffer }> {
    return retainedOutside(this.#mqtt, prefix)
  }

  /** [MQTT-4.7.2-1] no `$` topic queued for `#` or `+/…` (see dollar-topics.ts). */
  override async subscriptionsByTopic (topic: string): Promise<Array<{ clientId: string, topic: string, qos: number }>> {
    return await subscriptionsForTopic(topic, await super.subscriptionsByTopic(topic), (id) => super.subscriptionsByClient({ id }))
  }

  /** The client's queue, oldest first, without the messages that expired while it waited. */
  override outgoingStream (client: { id: string, clean?: boolean }): Readable {
    // A new connection: the ids of the last one mean nothing any more.
    this.#inflight.forget(client.id)
    this.#sent.forget(client.id)
    const stored = this.#fresh(client.id, super.outgoingStream(client) as AsyncIterable<QueuedPacket>)
    return Readable.from(this.#options.resume.stream(client, stored))
  }

  /**
   * Forgets everything kept for an expired persistent session: its subscriptions, its queue (and
   * its index), its half-done QoS 2 receipts and its will. [IM-SESSION-1]
   */
  async dropSession (clientId: string): Promise<void> {
    const id = encodeURIComponent(clientId)
    await this.cleanSubscriptions({ id: clientId })
    await this.#mqtt.clear({ gte: `outgoing:${id}:`, lt: `outgoing:${id};` })
    await this.#mqtt.clear({ gte: `outgoing-id:${id}:`, lt: `outgoing-id:${id};` })
    await this.#index.clear({ gte: `${id}:`, lt: `${id};` })
    this.#counts.delete(clientId)
    this.#inflight.forget(clientId)
    this.#sent.forget(clientId)
    await this.cleanIncoming({ id: clientId })
    await this.delWill({ id: clientId })
  }

  /** The client ids that have subscriptions or queued messages stored (sessions kept from earlier runs). */
  async storedClientIds (): Promise<Set<string>> {
    const ids = new Set<string>()
    for (const prefix of ['subscriptions:', 'outgoing:']) {
      for await (const key of this.#mqtt.keys({ gte: prefix, lt: `${prefix.slice(0, -1)};` })) {
        const id = key.slice(prefix.length, key.indexOf(':', prefix.length))
        ids.add(decodeURIComponent(id))
      }
    }
    return ids
  }

  /**
   * The stored queue as it streams, without what expired while it waited. The enqueue times are
   * read in one range first (the queue is bounded), not one read per packet. Each packet's message
   * id is learnt, for the next `outgoingUpdate`.
   */
  async * #fresh (clientId: string, packets: AsyncIterable<QueuedPacket>): AsyncGenerator<QueuedPacket> {
    const id = encodeURIComponent(clientId)
    const queuedAt = new Map(await this.#index.iterator({ gte: `${id}:`, lt: `${id};` }).all())
    const now = this.#options.now()
    for await (const packet of packets) {
      const at = queuedAt.get(indexKey(clientId, packet))
      if (at !== undefined && now - Number(at) > this.#options.maxAgeMs) {
        await this.#mqtt.del(outgoingKey(clientId, packet))
        await this.#forget(clientId, packet)
        this.#options.onDrop(clientId, 'expired', packet.topic)
        continue
      }
      this.#sent.set(clientId, storedKey(packet), packet.messageId ?? 0)
      yield packet
    }
  }

  /**
   * Writes a packet whose slot `cell` already counts — the packet and its enqueue time in the
   * turn's batch, one write for every message queued in that turn; gives the slot back if the
   * write fails. The PUBACK to its publisher waits for this write. [IM-Q-5]
   */
  async #store (cell: { n: number }, sub: { clientId: string }, packet: QueuedPacket): Promise<void> {
    try {
      await this.#batch.write([
        { type: 'put', sublevel: this.#index, key: indexKey(sub.clientId, packet), value: String(this.#options.now()) },
        { type: 'put', sublevel: this.#mqtt, key: outgoingKey(sub.clientId, packet), value: encodeQueued(packet), valueEncoding: 'buffer' }
      ])
      this.#sent.set(sub.clientId, storedKey(packet), 0)
    } catch (err) {
      cell.n = Math.max(0, cell.n - 1)
      throw err
    }
  }

  async #forget (clientId: string, packet: QueuedPacket): Promise<void> {
    this.#release(clientId)
    await this.#batch.write([{ type: 'del', sublevel: this.#index, key: indexKey(clientId, packet) }])
  }

  /** One message left the client's queue: its slot is free (once the count is known). */
  #release (clientId: string): void {
    void this.#count(clientId).then((cell) => { cell.n = Math.max(0, cell.n - 1) })
  }

  #count (clientId: string): Promise<{ n: number }> {
    let cell = this.#counts.get(clientId)
    if (!cell) {
      const prefix = `${encodeURIComponent(clientId)}:`
      cell = this.#index.keys({ gte: prefix, lt: `${encodeURIComponent(clientId)};` }).all().then((keys) => ({ n: keys.length }))
      this.#counts.set(clientId, cell)
    }
    return cell
  }
}
