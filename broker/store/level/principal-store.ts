import { ImError } from '../../../shared/errors.js'
import type { PrincipalRecord, PrincipalStore, SiteRecord, SiteStore } from '../ports.js'
import { KeyedLock } from '../../lib/keyed-lock.js'
import type { RootDb } from './open.js'

export class LevelPrincipalStore implements PrincipalStore {
  readonly #db
  readonly #lock = new KeyedLock()

  constructor (root: RootDb) {
    this.#db = root.sublevel<string, PrincipalRecord>('principals', { valueEncoding: 'json' })
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

  async put (record: PrincipalRecord): Promise<void> {
    await this.#lock.run(record.uid, async () => { await this.#db.put(record.uid, record) })
  }

  async delete (uid: string): Promise<boolean> {
    return await this.#lock.run(uid, async () => {
      if (await this.#db.get(uid) === undefined) return false
      await this.#db.del(uid)
      return true
    })
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
