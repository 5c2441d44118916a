import { ImError } from '../../../shared/errors.js'
import type { PrincipalRecord, PrincipalStore, SiteRecord, SiteStore } from '../ports.js'
import { KeyedLock } from '../../lib/keyed-lock.js'
import type { RootDb } from './open.js'

/**
 * Principals by uid (`principals`), and when each deleted uid was deleted (`principal-deletions`,
 * uid → ms, written in one batch with the removal). One process owns the database, so a lock per
 * uid makes create, replace and delete atomic.
 */
export class LevelPrincipalStore implements PrincipalStore {
  readonly #root: RootDb
  readonly #db
  readonly #deletions
  readonly #lock = new KeyedLock()

  constructor (root: RootDb) {
    this.#root = root
    this.#db = root.sublevel<string, PrincipalRecord>('principals', { valueEncoding: 'json' })
    this.#deletions = root.sublevel<string, number>('principal-deletions', { valueEncoding: 'json' })
  }

  async get (uid: string): Promise<PrincipalRecord | undefined> {
    return await this.#db.get(uid)
  }

  async create (record: PrincipalRecord): Promise<void> {
    await this.#lock.run(record.uid, async () => {
      if (await this.#db.get(record.uid) !== undefined) throw new ImError('IM_ERR_PRINCIPAL_EXISTS')
      await this.#db.put(record.uid, record)
    })
  }

  async replace (record: PrincipalRecord): Promise<boolean> {
    return await this.#lock.run(record.uid, async () => {
      const stored = await this.#db.get(record.uid)
      if (stored === undefined || stored.incarnation !== record.incarnation) return false
      await this.#db.put(record.uid, record)
      return true
    })
  }

  async delete (uid: string, at: number): Promise<boolean> {
    return await this.#lock.run(uid, async () => {
      if (await this.#db.get(uid) === undefined) return false
      await this.#root.batch().del(uid, { sublevel: this.#db }).put(uid, at, { sublevel: this.#deletions }).write()
      return true
    })
  }

  async deletedAt (uid: string): Promise<number | undefined> {
    return await this.#deletions.get(uid)
  }

  async list (filter: { role?: PrincipalRecord['role'] } = {}): Promise<PrincipalRecord[]> {
    const out: PrincipalRecord[] = []
    for await (const record of this.#db.values()) {
      if (filter.role === undefined || record.role === filter.role) out.push(record)
    }
    return out
  }
}

export class LevelSiteStore implements SiteStore {
  readonly #db

  constructor (root: RootDb) {
    this.#db = root.sublevel<string, SiteRecord>('sites', { valueEncoding: 'json' })
  }

  async get (siteKey: string): Promise<SiteRecord | undefined> {
    return await this.#db.get(siteKey)
  }

  async create (record: SiteRecord): Promise<void> {
    await this.#db.put(record.siteKey, record)
  }

  async put (record: SiteRecord): Promise<void> {
    await this.#db.put(record.siteKey, record)
  }

  async list (): Promise<SiteRecord[]> {
    return await this.#db.values().all()
  }
}
