/**
 * Persistent-session records in MongoDB:
 *
 *   sessions  { _id: clientId, ...SessionRecord }      (listed in _id order: clientId order)
 *
 * Every CONNECT and disconnect writes here, so the writes asked for within one event-loop turn
 * go as one bulkWrite, and every caller's promise settles when it has landed. [IM-PERF-1]
 * Batches go one after the other, and a batch keeps only the last write of each clientId, so
 * writes of one clientId land in the order they were asked for (a later delete never overtakes
 * an earlier put). Across brokers each write is one single-document replace or delete.
 */
import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb'
import { TurnFlusher } from '../../lib/turn-flusher.js'
import type { SessionRecord, SessionStore } from '../ports.js'

type SessionDoc = SessionRecord & { _id: string }

interface Waiting { resolve: () => void, reject: (err: unknown) => void }
/** the last write asked for a clientId in this turn (the record, or null to delete) and who waits on it */
interface Pending { record: SessionRecord | null, waiting: Waiting[] }

export class MongoSessionStore implements SessionStore {
  readonly #sessions: Collection<SessionDoc>
  #pending = new Map<string, Pending>()
  readonly #flusher = new TurnFlusher(async () => { await this.#flush() }, () => this.#pending.size > 0)

  constructor (db: Db) {
    this.#sessions = db.collection<SessionDoc>('sessions')
  }

  static async open (db: Db): Promise<MongoSessionStore> {
    return new MongoSessionStore(db) // read by _id, listed in _id order: no other index
  }

  async get (clientId: string): Promise<SessionRecord | undefined> {
    return await this.#sessions.findOne<SessionRecord>({ _id: clientId }, { projection: { _id: 0 } }) ?? undefined
  }

  async put (record: SessionRecord): Promise<void> {
    await this.#write(record.clientId, record)
  }

  async delete (clientId: string): Promise<void> {
    await this.#write(clientId, null)
  }

  async * list (): AsyncIterable<SessionRecord> {
    // a cursor, not an array: a broker may keep many sessions
    yield * this.#sessions.find<SessionRecord>({}, { projection: { _id: 0 } }).sort({ _id: 1 })
  }

  async #write (clientId: string, record: SessionRecord | null): Promise<void> {
    const pending = this.#pending.get(clientId)
    const waiting = pending?.waiting ?? []
    this.#pending.set(clientId, { record, waiting })
    const done = new Promise<void>((resolve, reject) => { waiting.push({ resolve, reject }) })
    this.#flusher.schedule()
    await done
  }

  /** Writes this turn's records as one unordered bulkWrite (one write per clientId: no order needed). */
  async #flush (): Promise<void> {
    const batch = this.#pending
    this.#pending = new Map()
    try {
      await this.#sessions.bulkWrite([...batch].map(([clientId, { record }]) => operation(clientId, record)), { ordered: false })
      for (const { waiting } of batch.values()) settle(waiting)
    } catch {
      // Which writes failed is not always told (FerretDB stops at the first failing one and names
      // none): each is written again alone, they replace or delete by _id, so a repeat is harmless.
      await Promise.all([...batch].map(async ([clientId, { record, waiting }]) => {
        try {
          await this.#sessions.bulkWrite([operation(clientId, record)])
          settle(waiting)
        } catch (err) {
          settle(waiting, err)
        }
      }))
    }
  }
}

function settle (waiting: Waiting[], err?: unknown): void {
  for (const w of waiting) {
    if (err === undefined) w.resolve()
    else w.reject(err)
  }
}

function operation (clientId: string, record: SessionRecord | null): AnyBulkWriteOperation<SessionDoc> {
  if (record === null) return { deleteOne: { filter: { _id: clientId } } }
  return { replaceOne: { filter: { _id: clientId }, replacement: record, upsert: true } }
}
