/**
 * Group commit for the MongoDB queue: the documents inserted within one event-loop turn go to
 * the collection in one unordered `insertMany`, and every caller's promise settles with it — one
 * round trip for a turn of publishes and subscribers, not one per message. [IM-PERF-1]
 *
 * Writes go one after the other, never two at once (as write-batch.ts on LevelDB): what is asked
 * for while one is under way goes into the next. So callers hear back in the order they asked.
 * aedes needs that: it emits a QoS > 0 message once its queued copies are stored (aedes.js
 * `enqueueOffline`, then `emitPacket`), and a client given a message drops any with a lower
 * counter as a duplicate (lib/client.js `dedupe`). Two `insertMany` at once can land in either
 * order (they do on FerretDB 1.24): the later message went out first, and the earlier one was
 * lost for every connected subscriber of its topic. [IM-SYNC-2]
 *
 * Should a write fail, each document is tried again alone, so each caller hears of its own
 * outcome (FerretDB's bulk errors may not say which document failed): a duplicate `_id` is that
 * very document, stored already — by the failed batch, before its reply was lost.
 */
import type { Collection, OptionalUnlessRequiredId } from 'mongodb'
import { TurnFlusher } from '../lib/turn-flusher.js'
import { isDuplicateKey } from '../store/mongo/connect.js'

interface Waiting { resolve: () => void, reject: (err: unknown) => void }
/** a document's outcome: stored, or why not */
type Outcome = { stored: true } | { stored: false, error: unknown }

const STORED: Outcome = { stored: true }

export class TurnInserts<D extends { _id: string }> {
  readonly #collection: Collection<D>
  #docs: D[] = []
  #waiting: Waiting[] = []
  readonly #flusher = new TurnFlusher(async () => { await this.#flush() }, () => this.#docs.length > 0)

  constructor (collection: Collection<D>) {
    this.#collection = collection
  }

  /** Resolves once `doc` is stored (with everything else inserted in this turn), after every insert asked for before it settled. */
  async insert (doc: D): Promise<void> {
    this.#docs.push(doc)
    const done = new Promise<void>((resolve, reject) => { this.#waiting.push({ resolve, reject }) })
    this.#flusher.schedule()
    await done
  }

  async #flush (): Promise<void> {
    const docs = this.#docs
    const waiting = this.#waiting
    this.#docs = []
    this.#waiting = []
    const outcomes = await this.#write(docs)
    // settled in the order they were asked for, in one go
    waiting.forEach((w, i) => {
      const outcome = outcomes[i]!
      if (outcome.stored) w.resolve()
      else w.reject(outcome.error)
    })
  }

  async #write (docs: D[]): Promise<Outcome[]> {
    try {
      await this.#collection.insertMany(docs as Array<OptionalUnlessRequiredId<D>>, { ordered: false })
      return docs.map(() => STORED)
    } catch {
      return await Promise.all(docs.map(async (doc): Promise<Outcome> => {
        try {
          await this.#collection.insertOne(doc as OptionalUnlessRequiredId<D>)
          return STORED
        } catch (error) {
          return isDuplicateKey(error) ? STORED : { stored: false, error }
        }
      }))
    }
  }
}
