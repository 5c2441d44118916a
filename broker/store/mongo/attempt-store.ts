/**
 * Attempts counted before they are made, in MongoDB, shared by every broker node:
 *
 *   login_attempts  { _id: '{key}#{slot:6}', key, slot, at, expiresAt: Date }   TTL index on expiresAt
 *
 * A take reads the key's slots (one `_id` range), lets the caller decide whether there is room,
 * and inserts the next slot: two takes that saw the same room insert the same `_id`, and one of
 * them fails and reads again. A unique-key insert is atomic on MongoDB and on FerretDB alike —
 * unlike an `$inc` upsert (rate-limiter-flexible's RateLimiterMongo), which FerretDB 1.24 applies
 * read-then-write and so loses under concurrent connections (test/infra/ferretdb.test.ts, point 1):
 * counts would come out low and let more attempts through than the limit. [IM-LIMIT-1]
 *
 * MongoDB removes expired slots through the TTL index; FerretDB 1.24 has no TTL indexes, so a
 * take ignores expired slots and every node deletes them now and then.
 */
import { MongoServerError, type Collection, type Db } from 'mongodb'
import { tallyOf } from '../level/attempt-store.js'
import type { AttemptStore, AttemptTake, AttemptTally } from '../ports.js'
import { isDuplicateKey } from './connect.js'

interface AttemptDoc { _id: string, key: string, slot: number, at: number, expiresAt: Date }

/** Takes that lost a race are tried again this often; past it the attempt is refused (fails closed). */
const RETRIES = 8
/** How often, at most, a node deletes expired slots (FerretDB keeps them otherwise). */
const PURGE_MS = 60_000

const NOT_IMPLEMENTED = 238

const slotId = (key: string, slot: number): string => `${key}#${String(slot).padStart(6, '0')}`

export class MongoAttemptStore implements AttemptStore {
  readonly #attempts: Collection<AttemptDoc>
  readonly #now: () => number
  #purgedAt = 0

  constructor (db: Db, now: () => number = Date.now) {
    this.#attempts = db.collection<AttemptDoc>('login_attempts')
    this.#now = now
  }

  static async open (db: Db, now?: () => number): Promise<MongoAttemptStore> {
    const store = new MongoAttemptStore(db, now)
    try {
      await store.#attempts.createIndex({ expiresAt: 1 }, { name: 'expires', expireAfterSeconds: 0 })
    } catch (err) {
      // FerretDB 1.24: 'Index option "expireAfterSeconds" is not implemented yet' (code 238); the purge does it
      if (!(err instanceof MongoServerError && err.code === NOT_IMPLEMENTED)) throw err
    }
    return store
  }

  async take (key: string, at: number, expiresAt: number, allow: (tally: AttemptTally) => boolean): Promise<AttemptTake> {
    this.#purge()
    let tally: AttemptTally = { count: 0 }
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      // Keys never hold '#' or '$': the range is exactly this key's slots, in slot order.
      const slots = await this.#attempts.find({ _id: { $gt: `${key}#`, $lt: `${key}$` } }, { projection: { slot: 1, at: 1, expiresAt: 1 } }).toArray()
      const now = this.#now()
      tally = tallyOf(slots.filter((s) => s.expiresAt.getTime() > now))
      if (!allow(tally)) return { taken: false, tally }
      // after every slot still stored, expired ones included: an _id is never taken twice
      const slot = slots.reduce((top, s) => Math.max(top, s.slot + 1), 0)
      try {
        await this.#attempts.insertOne({ _id: slotId(key, slot), key, slot, at, expiresAt: new Date(expiresAt) })
        return { taken: true, slot }
      } catch (err) {
        if (!isDuplicateKey(err)) throw err
      }
    }
    return { taken: false, tally }
  }

  async giveBack (key: string, slot: number): Promise<void> {
    await this.#attempts.deleteOne({ _id: slotId(key, slot) })
  }

  async clear (key: string): Promise<void> {
    await this.#attempts.deleteMany({ _id: { $gt: `${key}#`, $lt: `${key}$` } })
  }

  #purge (): void {
    const now = this.#now()
    if (now - this.#purgedAt < PURGE_MS) return
    this.#purgedAt = now
    this.#attempts.deleteMany({ expiresAt: { $lte: new Date(now) } }).catch(() => { /* the next purge tries again */ })
  }
}
