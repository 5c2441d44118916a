/**
 * aedes-persistence-mongodb, with bounded offline queues: the policy of bounded-queue.ts (the
 * same options, drops and promises) on MongoDB and FerretDB 1.24. [IM-Q-1..5]
 *
 * - A client's queue holds at most `maxMessages`; a message for a full queue is not queued (tail
 *   drop), a queued message older than `maxAgeMs` is dropped when the queue is delivered, and
 *   every drop is reported through `onDrop`.
 * - A message is acknowledged only once the queue holds it, and a queue streams oldest first.
 *
 * Where things are (aedes-persistence-mongodb's collections, and what is ours):
 * - `outgoing`: one document per queued message and client, `{ _id, clientId, packet, queuedAt }`.
 *   The `_id` is ours, `{client}:{brokerId}:{counter}` (queue-keys.ts `indexKey`), so a PUBACK,
 *   an expiry or a sent id finds the document by `_id` without a query — on FerretDB the only
 *   lookup that does not read the whole collection — and one message queued twice for a client
 *   is stored once. `queuedAt` is the enqueue time (non-decreasing on each node). A queue streams
 *   in arrival order across nodes, each node's messages in its counter order (queue-order.ts)
 *   [IM-Q-4]; it is bounded, so it is read whole first.
 * - `subscriptions`, `incoming`: aedes-persistence-mongodb's own documents; it does not index
 *   `subscriptions`, read by client id at every CONNECT: we do.
 * - `will`: mongo-wills.ts; `retained`: mongo-retained.ts.
 * The count per client is kept in memory, counted the first time a client is touched. With several
 * broker nodes on one database, a node counts what it queues and what it delivers, not what the
 * others do: a queue this node filled and another emptied (its client went to that node) still
 * looks full here. So a queue that looks full is counted again before a message is dropped (at
 * most once a second while it stays full). The bound is per node between counts: with N nodes a
 * queue can hold up to N × `maxMessages`.
 */
import { Readable } from 'node:stream'
import Packet from 'aedes-packet'
import AsyncMongoPersistence from 'aedes-persistence-mongodb/asyncPersistence.js'
import type { Collection, Db } from 'mongodb'
import { KeyedLock } from '../lib/keyed-lock.js'
import type { BoundedQueueOptions } from './bounded-queue.js'
import { subscriptionsForTopic } from './dollar-topics.js'
import { arrivalOrder } from './queue-order.js'
import { InflightIds, SentIds } from './inflight-ids.js'
import { TurnInserts } from './mongo-inserts.js'
import { MongoRetained, type RetainedDoc, type RetainedPacket } from './mongo-retained.js'
import { MongoWills, type WillDoc, type WillPacket } from './mongo-wills.js'
import { indexKey, type QueuedPacket } from './queue-keys.js'
import { PendingWrites } from './pending-writes.js'
import type { WillClient } from './will-keeper.js'

type StoredPacket = QueuedPacket & { cmd?: string }
interface OutgoingDoc { _id: string, clientId: string, packet: StoredPacket, queuedAt?: number }
type Sub = { topic: string, qos: number }
/** `n`: the messages queued for a client as this node knows it, inserts under way included. */
/** `writing`: inserts under way; `started`: inserts ever started (to count those begun during a recount) */
interface QueueCount { n: number, writing: number, started: number, fullAt: number, recounting?: Promise<void> }

/** payloads come back as Buffers, not BSON Binary */
const READ = { promoteBuffers: true } as const
/** a queue found full by counting is not counted again for this long */
const RECOUNT_FULL_MS = 1000

export class BoundedMongoPersistence extends AsyncMongoPersistence {
  readonly #db: Db
  readonly #outgoing: Collection<OutgoingDoc>
  readonly #wills: MongoWills
  readonly #retained: MongoRetained
  readonly #options: BoundedQueueOptions
  readonly #counts = new Map<string, Promise<QueueCount>>()
  readonly #inflight = new InflightIds<QueuedPacket>()
  /** queued document `_id` → the message id its document holds (learnt as it streams or is sent) */
  readonly #sent = new SentIds()
  /** the updates of one queued message land in the order they were asked for */
  readonly #writes = new KeyedLock()
  readonly #inserts: TurnInserts<OutgoingDoc>
  /** PUBACK deletes on their way to the store, by client: its next stream reads the queue after them */
  readonly #clearing = new PendingWrites()
  /** a client's subscription writes, one at a time; the write of a SUBSCRIBE's list of filters */
  readonly #subscriptionWrites = new KeyedLock()
  readonly #subscribing = new WeakMap<Sub[], Promise<void>>()
  #lastQueuedAt = 0

  /** `db`: the broker's own, one driver and pool for everything (aedes-persistence-mongodb then leaves it open). */
  constructor (db: Db, options: BoundedQueueOptions) {
    super({ db })
    this.#db = db
    this.#outgoing = db.collection<OutgoingDoc>('outgoing')
    this.#wills = new MongoWills(db.collection<WillDoc>('will'))
    this.#retained = new MongoRetained(db.collection<RetainedDoc>('retained'))
    this.#options = options
    this.#inserts = new TurnInserts(this.#outgoing)
  }

  /**
   * aedes-persistence-mongodb's indexes, loaded subscriptions, and ours: a client's subscriptions
   * and will are read by client id (CONNECT, session expiry), and a (client, filter) has one
   * document — a copy left behind would outlive its UNSUBSCRIBE (`deleteOne`) and come back at
   * the next start.
   */
  override async setup (broker: unknown): Promise<void> {
    await super.setup(broker)
    await Promise.all([
      this.#db.collection('subscriptions').createIndex({ clientId: 1, topic: 1 }, { name: 'query_clientId_topic', unique: true }),
      this.#wills.createIndexes()
    ])
  }

  /**
   * aedes stores a SUBSCRIBE's filters once per filter, each time the whole list, all at once
   * (lib/handlers/subscribe.js `storeSubscriptions`); aedes-persistence-mongodb would upsert them
   * all that many times concurrently. FerretDB's upserts are not atomic: on the unique index one
   * fails (E11000, and aedes drops the connection), without it copies are left. Its broadcast of
   * the new subscriptions also keeps one waiter per (client, first filter). So one packet's list
   * is written once, and a client's subscription writes run one after the other.
   */
  override async addSubscriptions (client: { id: string }, subs: Sub[]): Promise<void> {
    if (subs.length === 0) return // aedes-persistence-mongodb: "Batch cannot be empty"
    let pending = this.#subscribing.get(subs)
    if (!pending) {
      pending = this.#subscriptionWrites.run(client.id, async () => { await super.addSubscriptions(client, subs) })
      this.#subscribing.set(subs, pending)
    }
    await pending
  }

  /** After the client's subscription writes asked for before it (see addSubscriptions). */
  override async removeSubscriptions (client: { id: string }, topics: string[]): Promise<void> {
    if (topics.length === 0) return
    await this.#subscriptionWrites.run(client.id, async () => { await super.removeSubscriptions(client, topics) })
  }

  /** One will per client (mongo-wills.ts). */
  override async putWill (client: WillClient, packet: WillPacket): Promise<void> {
    await this.#wills.put(client, packet, this.broker?.id)
  }

  /** Not a will that another node, or a connection that took the client id over, stored since (will-keeper.ts). */
  override async delWill (client: WillClient): Promise<unknown> {
    return await this.#wills.del(client)
  }

  /** Online persistent clients: always queued (aedes delivers it at once). */
  override async outgoingEnqueue (sub: { clientId: string }, packet: QueuedPacket): Promise<void> {
    const cell = await this.#count(sub.clientId)
    cell.n++
    await this.#store(cell, sub.clientId, packet)
  }

  /**
   * Offline clients: queued unless the client's queue is full. Once per client, also when several
   * of its filters match the topic (`a/b` and `a/+`: the persistence returns both).
   */
  override async outgoingEnqueueCombi (subs: Array<{ clientId: string }>, packet: QueuedPacket): Promise<void> {
    if (!subs || subs.length === 0) return
    await Promise.all([...new Set(subs.map((sub) => sub.clientId))].map(async (clientId) => {
      const cell = await this.#count(clientId)
      // full: the slots of messages acknowledged just before are freed once their deletes land
      if (cell.n >= this.#options.maxMessages) await this.#clearing.settled(clientId)
      if (cell.n >= this.#options.maxMessages) await this.#recount(clientId, cell)
      // Check and take the slot with no `await` in between: aedes handles the packets of one
      // TCP chunk (and of many publishers) concurrently, and they must not all see room.
      if (cell.n >= this.#options.maxMessages) {
        this.#options.onDrop(clientId, 'full', packet.topic)
        return
      }
      cell.n++
      await this.#store(cell, clientId, packet)
    }))
  }

  /**
   * A stored packet is sent with a message id, which its document keeps for the next connection:
   * aedes resends it with that id [MQTT-4.4.0-1]. Written only when the document holds another
   * (a resent packet keeps its id), and not waited for: the PUBACK path reads memory, and a write
   * landing after the PUBACK's delete matches nothing (no upsert) [IM-PERF-1]. A PUBREL replaces
   * its PUBLISH (QoS 2) and is waited for: after a reconnect the PUBREL is what is sent again.
   */
  override async outgoingUpdate (client: { id: string }, packet: StoredPacket & { messageId?: number }): Promise<void> {
    if (packet.brokerId === undefined && packet.messageId !== undefined) {
      const sent = this.#inflight.peek(client.id, packet.messageId) ?? await this.#byMessageId(client.id, packet.messageId)
      if (!sent) return // nothing of it is queued (aedes-persistence-mongodb would not find it either)
      Object.assign(packet, { brokerId: sent.brokerId, brokerCounter: sent.brokerCounter })
    }
    const { topic, brokerId, brokerCounter, qos, messageId, cmd } = packet
    if (brokerId === undefined || messageId === undefined) return
    const _id = indexKey(client.id, packet)
    if (cmd === 'pubrel') {
      await this.#writes.run(_id, async () => { await this.#outgoing.updateOne({ _id }, { $set: { packet: { cmd, brokerId, brokerCounter, messageId } as StoredPacket } }) })
    } else if (this.#sent.get(client.id, _id) !== messageId) {
      void this.#writes.run(_id, async () => { await this.#outgoing.updateOne({ _id }, { $set: { 'packet.messageId': messageId } }) })
        .catch(() => undefined) // a lost write means a new id on the next connection, as after a crash
    }
    this.#sent.set(client.id, _id, messageId)
    this.#inflight.remember(client.id, messageId, { topic, brokerId, brokerCounter, qos, messageId })
  }

  /**
   * A PUBACK (or PUBCOMP): the packet goes from the queue, found in memory (in flight on this
   * process) and deleted by `_id`; only an id of a persistent session not in memory is looked up.
   *
   * The delete of a packet found in memory is not waited for: aedes reads a connection's next
   * packets only once it has handled every packet of the last chunk (lib/client.js `nextBatch`,
   * `_parsingBatch`), and a PUBACK is handled when this resolves. A round trip per PUBACK (tens of
   * ms on FerretDB, a LevelDB batch takes one) left the next PUBACKs unread in the socket, and a
   * client that disconnected meanwhile had them thrown away with it: what it had acknowledged was
   * sent again on its next connection. Its next stream waits for the delete instead; a delete that
   * fails means the message is sent again, as after a crash (QoS 1: at least once). [IM-PERF-1]
   */
  override async outgoingClearMessageId (client: { id: string, clean?: boolean }, packet: { messageId?: number }): Promise<QueuedPacket | undefined> {
    // No id: a live delivery the resume gate held back, or a duplicate aedes dropped. (aedes-
    // persistence-mongodb deletes `{ 'packet.messageId': undefined }`: any queued message.)
    if (packet.messageId === undefined) return undefined
    const known = this.#inflight.take(client.id, packet.messageId)
    if (known) {
      const _id = indexKey(client.id, known)
      this.#sent.delete(client.id, _id)
      this.#clearing.add(client.id, this.#remove(client.id, _id))
      return known
    }
    if (client.clean === true) return undefined
    await this.#clearing.settled(client.id) // not a document an earlier PUBACK is deleting
    const doc = await this.#outgoing.findOneAndDelete({ clientId: client.id, 'packet.messageId': packet.messageId }, READ)
    if (!doc) return undefined
    this.#release(client.id)
    return doc.packet
  }

  /** The client's queue, oldest first, without the messages that expired while it waited. */
  override outgoingStream (client: { id: string, clean?: boolean }): Readable {
    // A new connection: the ids of the last one mean nothing any more.
    this.#inflight.forget(client.id)
    this.#sent.forget(client.id)
    return Readable.from(this.#options.resume.stream(client, this.#fresh(client.id)))
  }

  /** [MQTT-4.7.2-1] no `$` topic queued for `#` or `+/…` (see dollar-topics.ts). */
  override async subscriptionsByTopic (topic: string): Promise<Array<{ clientId: string, topic: string, qos: number }>> {
    return await subscriptionsForTopic(topic, await super.subscriptionsByTopic(topic), (id) => super.subscriptionsByClient({ id }))
  }

  /** aedes-persistence-mongodb drops the errors of its retained writes: these are waited for (mongo-retained.ts). */
  override async storeRetained (packet: RetainedPacket): Promise<void> {
    await this.#retained.store(packet)
  }

  /** The retained messages for a SUBSCRIBE's filters, by `_id` or `_id` range (mongo-retained.ts). */
  override createRetainedStreamCombi (patterns: string[]): Readable {
    return Readable.from(this.#retained.find(patterns))
  }

  /** (aedes 1.2 asks for the combined stream only) */
  override createRetainedStream (pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern])
  }

  /** Every retained message outside `{prefix}/` (mongo-retained.ts). */
  retainedOutside (prefix: string): AsyncIterable<{ topic: string, payload: Buffer }> {
    return this.#retained.outside(prefix)
  }

  /** Forgets an expired persistent session: subscriptions, queue, QoS 2 receipts, will. [IM-SESSION-1] */
  async dropSession (clientId: string): Promise<void> {
    await this.cleanSubscriptions({ id: clientId })
    await this.#outgoing.deleteMany({ clientId })
    this.#counts.delete(clientId)
    this.#inflight.forget(clientId)
    this.#sent.forget(clientId)
    await this.cleanIncoming({ id: clientId })
    await this.#wills.drop(clientId)
  }

  /** The client ids that have subscriptions or queued messages stored (sessions kept from earlier runs). */
  async storedClientIds (): Promise<Set<string>> {
    const [subscribed, queued] = await Promise.all([
      this.#db.collection('subscriptions').distinct('clientId'),
      this.#outgoing.distinct('clientId')
    ])
    return new Set<string>([...subscribed, ...queued])
  }

  /** Every stored subscription (the cluster's index check after a Redis outage, cluster/subscription-resync.ts). */
  async * storedSubscriptions (): AsyncIterable<{ clientId: string, topic: string, qos: number }> {
    yield * this.#db.collection<{ clientId: string, topic: string, qos: number }>('subscriptions').find({}, { projection: { _id: 0, clientId: 1, topic: 1, qos: 1 } })
  }

  /** The stored queue as it streams, without what expired while it waited. */
  async * #fresh (clientId: string): AsyncGenerator<QueuedPacket> {
    await this.#clearing.settled(clientId) // what the last connection acknowledged is gone
    const now = this.#options.now()
    for (const doc of arrivalOrder(await this.#outgoing.find({ clientId }, READ).toArray())) {
      if (doc.queuedAt !== undefined && now - doc.queuedAt > this.#options.maxAgeMs) {
        if (await this.#remove(clientId, doc._id)) this.#options.onDrop(clientId, 'expired', doc.packet.topic)
        continue
      }
      this.#sent.set(clientId, doc._id, doc.packet.messageId ?? 0)
      yield doc.packet
    }
  }

  /**
   * Writes a packet whose slot `cell` already counts, with its enqueue time, in the turn's
   * `insertMany`; gives the slot back if that fails. Its publisher's PUBACK waits for it. [IM-Q-5]
   */
  async #store (cell: QueueCount, clientId: string, packet: QueuedPacket): Promise<void> {
    cell.writing++
    cell.started++
    try {
      // stored as aedes-persistence-mongodb stores it: `new Packet(packet)`
      const stored = new Packet(packet) as unknown as StoredPacket
      // never back in time on this node: a queue's order among one node's messages follows their enqueue
      this.#lastQueuedAt = Math.max(this.#lastQueuedAt, this.#options.now())
      await this.#inserts.insert({ _id: indexKey(clientId, packet), clientId, packet: stored, queuedAt: this.#lastQueuedAt })
    } catch (err) {
      cell.n = Math.max(0, cell.n - 1)
      throw err
    } finally {
      cell.writing--
    }
  }

  /** Deletes a queued message (not behind its updates: they match nothing after it); frees its slot. */
  async #remove (clientId: string, _id: string): Promise<boolean> {
    const { deletedCount } = await this.#outgoing.deleteOne({ _id })
    if (deletedCount > 0) this.#release(clientId)
    return deletedCount > 0
  }

  async #byMessageId (clientId: string, messageId: number): Promise<QueuedPacket | undefined> {
    return (await this.#outgoing.findOne({ clientId, 'packet.messageId': messageId }))?.packet
  }

  /** One message left the client's queue: its slot is free (once the count is known). */
  #release (clientId: string): void {
    void this.#count(clientId).then((cell) => { cell.n = Math.max(0, cell.n - 1) })
  }

  #count (clientId: string): Promise<QueueCount> {
    let cell = this.#counts.get(clientId)
    if (!cell) {
      cell = this.#outgoing.countDocuments({ clientId }).then((n) => ({ n, writing: 0, started: 0, fullAt: 0 }))
      this.#counts.set(clientId, cell)
    }
    return cell
  }

  /**
   * A queue that looks full, counted again in the database (other nodes may have delivered what
   * this one queued); the inserts under way count too. One count at a time per client, and not
   * again for RECOUNT_FULL_MS once it found the queue full.
   */
  async #recount (clientId: string, cell: QueueCount): Promise<void> {
    if (cell.recounting === undefined) {
      if (Date.now() - cell.fullAt < RECOUNT_FULL_MS) return
      const counting = (async () => {
        try {
          // Inserts under way when the count starts may or may not be in it: counted on top (at
          // worst a message is dropped a little early, never one queued past the bound); and
          // so are the inserts started while it runs.
          const inFlight = cell.writing
          const startedBefore = cell.started
          const stored = await this.#outgoing.countDocuments({ clientId })
          cell.n = stored + inFlight + (cell.started - startedBefore)
          cell.fullAt = cell.n >= this.#options.maxMessages ? Date.now() : 0
        } catch {
          cell.fullAt = Date.now() // the count stays as it was: the message is dropped
        }
      })()
      cell.recounting = counting
      void counting.then(() => { if (cell.recounting === counting) cell.recounting = undefined })
    }
    await cell.recounting
  }
}
