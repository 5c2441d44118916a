/**
 * Customer-service state in MongoDB:
 *
 *   agents        { _id: uid, ...AgentRecord }            (`active` comes from the slots)
 *   support_open  { _id: cid, queuedAt, site, visitor, createdAt, state, tier }   one per open support chat
 *                 index { queuedAt, _id }                  openCids: FIFO, ties in cid order
 *                 index { state, tier, queuedAt, _id }     the queue: waiting chats, tier 0 (the visitor
 *                                                          wrote) before 1, each FIFO [IM-SUPPORT-RANK]
 *   support_slots, support_claims, support_visitor          who owns what (support-routing.ts)
 *   support_seen  { _id: uid, ts }                          a visitor's last traffic
 *   support_meta  { _id: 'alive', ts }                      the broker's heartbeat
 *   canned        { _id: id, ...CannedReply }
 *
 * An open chat is one document, so opening, moving (re-queued) and closing it are each one
 * single-document write; the visitor's place is freed only by the chat holding it, so a late
 * second close of an old chat cannot hide a visitor's newer one. [IM-SUPPORT-OPEN] [IM-SUPPORT-CLOSE]
 *
 * Writes of one document go through a per-key lock, so inside this broker they land in the order
 * they were asked for (as the embedded store's batch does), also for callers that do not wait.
 * Across brokers each write is a single-document replace, upsert or delete, which MongoDB applies
 * atomically: the last one wins. (FerretDB's updates are read-then-write, not atomic: the lock is
 * also what keeps concurrent upserts of one _id from failing there.)
 */
import type { Collection, Db } from 'mongodb'
import type { AgentState, Conversation } from '../../../shared/protocol.js'
import { KeyedLock } from '../../lib/keyed-lock.js'
import type { AgentPatch, AgentRecord, CannedReply, QueueCounts, QueueEntry, SupportStore } from '../ports.js'
import { queueEntry, toRecord, withSlots } from '../support-records.js'
import { isDuplicateKey, replaceOrInsert } from './connect.js'
import { MongoSupportRouting } from './support-routing.js'

type AgentDoc = AgentRecord & { _id: string }
type CannedDoc = CannedReply & { _id: string }
/** `state` and `tier` are absent on documents written before the queue was ranked (`unranked`). */
interface OpenDoc { _id: string, queuedAt: number, site: string, visitor: string, createdAt: number, state?: 'waiting' | 'active', tier?: 0 | 1 }
interface TimeDoc { _id: string, ts: number }

const withoutId = { projection: { _id: 0 } } as const
const tierOf = (entry: QueueEntry): 0 | 1 => entry.wrote ? 0 : 1

/** An open (waiting or active) chat's document: a waiting one has its place in the queue. */
function openDoc (conv: Conversation): OpenDoc {
  const support = conv.support!
  const entry = queueEntry(conv)
  return {
    _id: conv.cid, queuedAt: support.queuedAt, site: support.site, visitor: support.visitor, createdAt: conv.createdAt,
    state: support.state === 'active' ? 'active' : 'waiting', tier: tierOf(entry)
  }
}
const ALIVE = 'alive'

export class MongoSupportStore implements SupportStore {
  readonly #agents: Collection<AgentDoc>
  readonly #open: Collection<OpenDoc>
  readonly #seen: Collection<TimeDoc>
  readonly #meta: Collection<TimeDoc>
  readonly #canned: Collection<CannedDoc>
  readonly #lock = new KeyedLock()
  readonly #routing: MongoSupportRouting

  constructor (db: Db) {
    this.#routing = new MongoSupportRouting(db)
    this.#agents = db.collection<AgentDoc>('agents')
    this.#open = db.collection<OpenDoc>('support_open')
    this.#seen = db.collection<TimeDoc>('support_seen')
    this.#meta = db.collection<TimeDoc>('support_meta')
    this.#canned = db.collection<CannedDoc>('canned')
  }

  static async open (db: Db): Promise<MongoSupportStore> {
    const store = new MongoSupportStore(db)
    await store.ensureIndexes()
    return store
  }

  async ensureIndexes (): Promise<void> {
    await this.#open.createIndex({ queuedAt: 1, _id: 1 }, { name: 'fifo' })
    await this.#open.createIndex({ state: 1, tier: 1, queuedAt: 1, _id: 1 }, { name: 'queue' })
    await this.#routing.ensureIndexes()
  }

  // ---- agents and their slots ----

  async getAgent (uid: string): Promise<AgentState | undefined> {
    const record = await this.#agents.findOne<AgentRecord>({ _id: uid }, withoutId)
    return record ? withSlots(record, await this.#routing.slotsOf(uid)) : undefined
  }

  async putAgent (agent: AgentRecord): Promise<void> {
    await this.#lock.run(`agent:${agent.uid}`, async () => { await replaceOrInsert(this.#agents, { _id: agent.uid, ...toRecord(agent) }) })
  }

  async patchAgent (uid: string, patch: AgentPatch, create?: AgentRecord): Promise<void> {
    const $set: Record<string, unknown> = {}
    const $unset: Record<string, ''> = {}
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) $unset[key] = ''
      else if (value !== undefined) $set[key] = value
    }
    const $setOnInsert: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(create ?? {})) if (!(key in $set) && !(key in $unset) && key !== 'active') $setOnInsert[key] = value
    const update = { ...(Object.keys($set).length > 0 ? { $set } : {}), ...(Object.keys($unset).length > 0 ? { $unset } : {}), ...(create ? { $setOnInsert } : {}) }
    if (Object.keys(update).length === 0) return
    await this.#lock.run(`agent:${uid}`, async () => {
      try {
        await this.#agents.updateOne({ _id: uid }, update, { upsert: create !== undefined })
      } catch (err) {
        if (!isDuplicateKey(err)) throw err // another node created it first: change that one
        await this.#agents.updateOne({ _id: uid }, update)
      }
    })
  }

  async listAgents (): Promise<AgentState[]> {
    const [records, slots] = await Promise.all([this.#agents.find<AgentRecord>({}, withoutId).sort({ _id: 1 }).toArray(), this.#routing.slotsOf()])
    return records.map((record) => withSlots(record, slots.filter((slot) => slot.uid === record.uid)))
  }

  async takeSlot (uid: string, cid: string, capacity: number, at: number): Promise<boolean> { return await this.#routing.takeSlot(uid, cid, capacity, at) }
  async releaseSlot (uid: string, cid: string): Promise<void> { await this.#routing.releaseSlot(uid, cid) }

  // ---- who owns a chat, and visitors' places ----

  async claim (cid: string, agent: string, at: number): Promise<boolean> { return await this.#routing.claim(cid, agent, at) }
  async moveClaim (cid: string, from: string, to: string, at: number): Promise<boolean> { return await this.#routing.moveClaim(cid, from, to, at) }
  async unclaim (cid: string, agent?: string): Promise<void> { await this.#routing.unclaim(cid, agent) }
  async claimOf (cid: string): Promise<{ agent: string, at: number } | undefined> { return await this.#routing.claimOf(cid) }
  async reserveVisitor (site: string, visitor: string, cid: string): Promise<string> { return await this.#routing.reserveVisitor(site, visitor, cid) }
  async releaseVisitor (site: string, visitor: string, cid: string): Promise<void> { await this.#routing.releaseVisitor(site, visitor, cid) }

  // ---- the open index ----

  async indexOpen (conv: Conversation): Promise<void> {
    const support = conv.support
    if (!support) return
    const cid = conv.cid
    await this.#lock.run(`open:${cid}`, async () => {
      if (support.state === 'closed') {
        await this.#open.deleteOne({ _id: cid })
        await this.#routing.releaseVisitor(support.site, support.visitor, cid)
        return
      }
      // waiting or active: listed at its queuedAt, which a re-queue moves
      await replaceOrInsert(this.#open, openDoc(conv))
      await this.#routing.reserveVisitor(support.site, support.visitor, cid)
    })
  }

  async queue (limit: number, after?: QueueEntry): Promise<QueueEntry[]> {
    // equality on state, then the sort's own order: one range of the `queue` index
    const next = after === undefined
      ? {}
      : {
          $or: [
            { tier: { $gt: tierOf(after) } },
            { tier: tierOf(after), queuedAt: { $gt: after.queuedAt } },
            { tier: tierOf(after), queuedAt: after.queuedAt, _id: { $gt: after.cid } }
          ]
        }
    const docs = await this.#open.find({ state: 'waiting', ...next }, { projection: { _id: 1, visitor: 1, queuedAt: 1, tier: 1 } })
      .sort({ state: 1, tier: 1, queuedAt: 1, _id: 1 }).limit(limit).toArray()
    return docs.map((doc) => ({ cid: doc._id, visitor: doc.visitor, queuedAt: doc.queuedAt, wrote: doc.tier === 0 }))
  }

  async queueCounts (): Promise<QueueCounts> {
    const [total, silent] = await Promise.all([this.#open.countDocuments({ state: 'waiting' }), this.#open.countDocuments({ state: 'waiting', tier: 1 })])
    return { total, silent }
  }

  async unranked (limit: number): Promise<string[]> {
    return (await this.#open.find({ state: { $exists: false } }, { projection: { _id: 1 } }).limit(limit).toArray()).map((doc) => doc._id)
  }

  async rank (conv: Conversation): Promise<void> {
    const support = conv.support
    if (!support) return
    await this.#lock.run(`open:${conv.cid}`, async () => {
      // only a document still without a state: what another node indexed meanwhile is newer
      const unranked = { _id: conv.cid, state: { $exists: false } }
      if (support.state === 'closed') {
        if ((await this.#open.deleteOne(unranked)).deletedCount === 1) await this.#routing.releaseVisitor(support.site, support.visitor, conv.cid)
        return
      }
      const { state, tier } = openDoc(conv)
      await this.#open.updateOne(unranked, { $set: { state, tier } })
    })
  }

  async openCids (): Promise<string[]> {
    const open = await this.#open.find({}, { projection: { _id: 1 } }).sort({ queuedAt: 1, _id: 1 }).toArray()
    return open.map((doc) => doc._id)
  }

  async openFor (site: string, visitor: string): Promise<string | undefined> {
    return await this.#routing.placeOf(site, visitor)
  }

  // ---- visitors' last traffic and the broker's heartbeat: the newest write wins ----

  async setSeen (uid: string, ts: number): Promise<void> {
    await this.#lock.run(`seen:${uid}`, async () => { await replaceOrInsert(this.#seen, { _id: uid, ts }) })
  }

  async seen (uid: string): Promise<number | undefined> {
    return (await this.#seen.findOne({ _id: uid }))?.ts
  }

  async setAliveAt (ts: number): Promise<void> {
    await this.#lock.run(`meta:${ALIVE}`, async () => { await replaceOrInsert(this.#meta, { _id: ALIVE, ts }) })
  }

  async aliveAt (): Promise<number | undefined> {
    return (await this.#meta.findOne({ _id: ALIVE }))?.ts
  }

  // ---- canned replies ----

  async putCanned (reply: CannedReply): Promise<void> {
    await this.#lock.run(`canned:${reply.id}`, async () => { await replaceOrInsert(this.#canned, { _id: reply.id, ...reply }) })
  }

  async deleteCanned (id: string): Promise<void> {
    await this.#lock.run(`canned:${id}`, async () => { await this.#canned.deleteOne({ _id: id }) })
  }

  async listCanned (): Promise<CannedReply[]> {
    return await this.#canned.find<CannedReply>({}, withoutId).sort({ _id: 1 }).toArray()
  }
}
