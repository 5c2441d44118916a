/**
 * A `PrincipalStore` that remembers what it read for a few seconds. Every authenticated HTTP
 * request and every MQTT CONNECT looks its principal up (role, disabled, token generation come
 * from the store, never from a token's claims) [IM-AUTH-6]; the cache keeps that cheap.
 *
 * Writes through this store forget the entry at once, so a change made on this node (disable,
 * delete, revoke) takes effect on the next request. Another node sharing the store sees it
 * within `ttlMs` at most — which is why a deleted uid is created again only once `ttlMs` has
 * passed since its deletion (principals/service.ts): by then no node can still hold the old
 * incarnation's record, and a token of the old incarnation and one of the new never both work.
 * [IM-AUTH-8]
 *
 * An entry older than `ttlMs` is never answered, and it is not kept either: the cache lets go of
 * its expired entries at most once per `ttlMs`, as it is used. (Left to the LRU, they stayed until
 * `maxEntries` newer ones pushed them out: the record of every visitor of the last hours, half a
 * dozen objects each, long after the visitor had gone.) Memory follows the principals seen in the
 * last seconds.
 */
import { LRUCache } from 'lru-cache'
import type { Role } from '../../shared/identity.js'
import type { PrincipalRecord, PrincipalStore } from '../store/ports.js'

export interface PrincipalCacheOptions {
  ttlMs: number
  maxEntries: number
  /** the clock of the entries' age, in milliseconds (tests); `performance.now` by default */
  now?: () => number
}

export class CachedPrincipalStore implements PrincipalStore {
  readonly #store: PrincipalStore
  readonly #cache: LRUCache<string, PrincipalRecord>
  readonly #ttlMs: number
  readonly #now: () => number
  #purgedAt: number

  constructor (store: PrincipalStore, { ttlMs, maxEntries, now = () => performance.now() }: PrincipalCacheOptions) {
    this.#store = store
    this.#ttlMs = ttlMs
    this.#now = now
    this.#purgedAt = now()
    // ttlResolution 0: every age is read from the clock (by default lru-cache reuses a reading for 1 ms)
    this.#cache = new LRUCache({ max: maxEntries, ttl: ttlMs, ttlResolution: 0, perf: { now } })
  }

  /** Entries held, expired ones included until the next purge (for `im_memory_entries`). */
  get size (): number {
    return this.#cache.size
  }

  async get (uid: string): Promise<PrincipalRecord | undefined> {
    this.#purgeExpired()
    const cached = this.#cache.get(uid)
    if (cached) return cached
    const record = await this.#store.get(uid)
    // An unknown uid is not remembered: a principal created on another node is usable at once.
    if (record) this.#cache.set(uid, record)
    return record
  }

  async create (record: PrincipalRecord): Promise<void> {
    this.#cache.delete(record.uid)
    await this.#store.create(record)
  }

  async replace (record: PrincipalRecord): Promise<boolean> {
    this.#cache.delete(record.uid)
    try {
      return await this.#store.replace(record)
    } finally {
      this.#cache.delete(record.uid)
    }
  }

  async delete (uid: string, at: number): Promise<boolean> {
    try {
      return await this.#store.delete(uid, at)
    } finally {
      this.#cache.delete(uid)
    }
  }

  async deletedAt (uid: string): Promise<number | undefined> {
    return await this.#store.deletedAt(uid)
  }

  /** Forgets what was read of `uid`: another node changed it (cluster/access-revocations.ts). */
  forget (uid: string): void {
    this.#cache.delete(uid)
  }

  async list (filter?: { role?: Role }): Promise<PrincipalRecord[]> {
    return await this.#store.list(filter)
  }

  /** Drops the expired entries, at most once per TTL: one pass over at most `maxEntries`. */
  #purgeExpired (): void {
    const now = this.#now()
    if (now - this.#purgedAt < this.#ttlMs) return
    this.#purgedAt = now
    this.#cache.purgeStale()
  }
}
