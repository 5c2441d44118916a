/**
 * Group commit for the MongoDB queue: the documents inserted within one event-loop turn go to
 * the collection in one unordered `insertMany`, and every caller's promise settles with it — one
 * round trip for a turn of publishes and subscribers, not one per message. [IM-PERF-1]
 *
 * Should it fail, each document is tried again alone, so each caller hears of its own outcome
 * (FerretDB's bulk errors may not say which document failed): a duplicate `_id` is that very
 * document, stored already — by the failed batch, before its reply was lost.
 */
import type { Collection, OptionalUnlessRequiredId } from 'mongodb'
import { isDuplicateKey } from '../store/mongo/connect.js'

interface Waiting { resolve: () => void, reject: (err: unknown) => void }

export class TurnInserts<D extends { _id: string }> {
  readonly #collection: Collection<D>
  #docs: D[] = []
  #waiting: Waiting[] = []

  constructor (collection: Collection<D>) {
    this.#collection = collection
  }

  /** Resolves once `doc` is stored, together with everything else inserted in this turn. */
  async insert (doc: D): Promise<void> {
    if (this.#docs.length === 0) setImmediate(() => { void this.#flush() })
    this.#docs.push(doc)
    await new Promise<void>((resolve, reject) => { this.#waiting.push({ resolve, reject }) })
  }

  async #flush (): Promise<void> {
    const docs = this.#docs as Array<OptionalUnlessRequiredId<D>>
    const waiting = this.#waiting
    this.#docs = []
    this.#waiting = []
    try {
      await this.#collection.insertMany(docs, { ordered: false })
      for (const w of waiting) w.resolve()
    } catch {
      await Promise.all(docs.map(async (doc, i) => {
        const w = waiting[i]!
        try {
          await this.#collection.insertOne(doc)
          w.resolve()
        } catch (err) {
          if (isDuplicateKey(err)) w.resolve()
          else w.reject(err)
        }
      }))
    }
  }
}
