/**
 * A `PrincipalStore` that remembers what it read for a few seconds. Every authenticated HTTP
 * request and every MQTT CONNECT looks its principal up (role, disabled, token generation come
 * from the store, never from a token's claims) [IM-AUTH-6]; the cache keeps that cheap.
 *
 * Writes through this store forget the entry at once, so a change made on this node (disable,
 * delete, revoke) takes effect on the next request. Another node sharing the store sees it
 * within `ttlMs` at most.
 */
import { LRUCache } from 'lru-cache'
import type { Role } from '../../shared/identity.js'
import type { PrincipalRecord, PrincipalStore } from '../store/ports.js'

export interface PrincipalCacheOptions {
  ttlMs: number
  maxEntries: number
}

export class CachedPrincipalStore implements PrincipalStore {
  readonly #store: PrincipalStore
  readonly #cache: LRUCache<string, PrincipalRecord>

  constructor (store: PrincipalStore, { ttlMs, maxEntries }: PrincipalCacheOptions) {
    this.#store = store
    this.#cache = new LRUCache({ max: maxEntries, ttl: ttlMs })
  }

  async get (uid: string): Promise<PrincipalRecord | undefined> {
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

  async put (record: PrincipalRecord): Promise<void> {
    this.#cache.delete(record.uid)
    try {
      await this.#store.put(record)
    } finally {
      this.#cache.delete(record.uid)
    }
  }

  async delete (uid: string): Promise<boolean> {
    try {
      return await this.#store.delete(uid)
    } finally {
      this.#cache.delete(uid)
    }
  }

  async list (filter?: { role?: Role }): Promise<PrincipalRecord[]> {
    return await this.#store.list(filter)
  }
}
