/**
 * Customer-service state in MongoDB:
 *
 *   agents        { _id: uid, ...AgentState }
 *   support_open  { _id: cid, queuedAt, site, visitor, createdAt }   one per open support chat
 *                 index { queuedAt, _id }                  openCids: FIFO, ties in cid order
 *                 index { site, visitor, createdAt: -1 }   openFor: the visitor's newest open chat
 *   support_seen  { _id: uid, ts }                          a visitor's last traffic
 *   support_meta  { _id: 'alive', ts }                      the broker's heartbeat
 *   canned        { _id: id, ...CannedReply }
 *
 * An open chat is one document, so opening, moving (re-queued) and closing it are each one
 * single-document write: the FIFO list and the visitor lookup can never disagree, and a late
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
import type { CannedReply, SupportStore } from '../ports.js'
import { replaceOrInsert } from './connect.js'

type AgentDoc = AgentState & { _id: string }
type CannedDoc = CannedReply & { _id: string }
interface OpenDoc { _id: string, queuedAt: number, site: string, visitor: string, createdAt: number }
interface TimeDoc { _id: string, ts: number }

const withoutId = { projection: { _id: 0 } } as const
const ALIVE = 'alive'

export class MongoSupportStore implements SupportStore {
  readonly #agents: Collection<AgentDoc>
  readonly #open: Collection<OpenDoc>
  readonly #seen: Collection<TimeDoc>
  readonly #meta: Collection<TimeDoc>
  readonly #canned: Collection<CannedDoc>
  readonly #lock = new KeyedLock()

  constructor (db: Db) {
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
    await this.#open.createIndex({ site: 1, visitor: 1, createdAt: -1 }, { name: 'by_visitor' })
  }

  // ---- agents ----

  async getAgent (uid: string): Promise<AgentState | undefined> {
    return await this.#agents.findOne<AgentState>({ _id: uid }, withoutId) ?? undefined
  }

  async putAgent (agent: AgentState): Promise<void> {
    await this.#lock.run(`agent:${agent.uid}`, async () => { await replaceOrInsert(this.#agents, { _id: agent.uid, ...agent }) })
  }

  async listAgents (): Promise<AgentState[]> {
    return await this.#agents.find<AgentState>({}, withoutId).sort({ _id: 1 }).toArray()
  }

  // ---- the open index ----

  async indexOpen (conv: Conversation): Promise<void> {
    const support = conv.support
    if (!support) return
    const cid = conv.cid
    await this.#lock.run(`open:${cid}`, async () => {
      if (support.state === 'closed') {
        await this.#open.deleteOne({ _id: cid })
        return
      }
      // waiting or active: listed at its queuedAt, which a re-queue moves
      await replaceOrInsert(this.#open, { _id: cid, queuedAt: support.queuedAt, site: support.site, visitor: support.visitor, createdAt: conv.createdAt })
    })
  }

  async openCids (): Promise<string[]> {
    const open = await this.#open.find({}, { projection: { _id: 1 } }).sort({ queuedAt: 1, _id: 1 }).toArray()
    return open.map((doc) => doc._id)
  }

  async openFor (site: string, visitor: string): Promise<string | undefined> {
    // one open chat per visitor and site is the desk's rule; should two be open, the newest counts
    const open = await this.#open.find({ site, visitor }, { projection: { _id: 1 } }).sort({ createdAt: -1, _id: -1 }).limit(1).next()
    return open?._id
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
