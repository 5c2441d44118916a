/**
 * Principals and sites in MongoDB:
 *
 *   principals  { _id: uid, ...PrincipalRecord }       index { role, _id } (list by role, uid order)
 *   sites       { _id: siteKey, ...SiteRecord }
 *
 * Records are stored as they are with the natural key as `_id`, and read back without it, so
 * what `get` and `list` return deep-equals what was put.
 */
import type { Collection, Db } from 'mongodb'
import { ImError } from '../../../shared/errors.js'
import type { PrincipalRecord, PrincipalStore, SiteRecord, SiteStore } from '../ports.js'
import { isDuplicateKey, replaceOrInsert } from './connect.js'

type PrincipalDoc = PrincipalRecord & { _id: string }
type SiteDoc = SiteRecord & { _id: string }

const withoutId = { projection: { _id: 0 } } as const

export class MongoPrincipalStore implements PrincipalStore {
  readonly #principals: Collection<PrincipalDoc>

  constructor (db: Db) {
    this.#principals = db.collection<PrincipalDoc>('principals')
  }

  static async open (db: Db): Promise<MongoPrincipalStore> {
    const store = new MongoPrincipalStore(db)
    await store.#principals.createIndex({ role: 1, _id: 1 }, { name: 'role_uid' })
    return store
  }

  async get (uid: string): Promise<PrincipalRecord | undefined> {
    return await this.#principals.findOne<PrincipalRecord>({ _id: uid }, withoutId) ?? undefined
  }

  async create (record: PrincipalRecord): Promise<void> {
    // The unique _id decides between racing creates, on every node: no read before the write.
    try {
      await this.#principals.insertOne({ _id: record.uid, ...record })
    } catch (err) {
      if (isDuplicateKey(err)) throw new ImError('IM_ERR_PRINCIPAL_EXISTS')
      throw err
    }
  }

  async put (record: PrincipalRecord): Promise<void> {
    await replaceOrInsert(this.#principals, { _id: record.uid, ...record })
  }

  async delete (uid: string): Promise<boolean> {
    return (await this.#principals.deleteOne({ _id: uid })).deletedCount === 1
  }

  async list (filter: { role?: PrincipalRecord['role'] } = {}): Promise<PrincipalRecord[]> {
    const query = filter.role === undefined ? {} : { role: filter.role }
    return await this.#principals.find<PrincipalRecord>(query, withoutId).sort({ _id: 1 }).toArray()
  }
}

export class MongoSiteStore implements SiteStore {
  readonly #sites: Collection<SiteDoc>

  constructor (db: Db) {
    this.#sites = db.collection<SiteDoc>('sites')
  }

  static async open (db: Db): Promise<MongoSiteStore> {
    return new MongoSiteStore(db) // _id is the only key it is read by
  }

  async get (siteKey: string): Promise<SiteRecord | undefined> {
    return await this.#sites.findOne<SiteRecord>({ _id: siteKey }, withoutId) ?? undefined
  }

  /** Like the embedded store, a create of an existing siteKey replaces it (keys are random). */
  async create (record: SiteRecord): Promise<void> {
    await replaceOrInsert(this.#sites, { _id: record.siteKey, ...record })
  }

  async put (record: SiteRecord): Promise<void> {
    await replaceOrInsert(this.#sites, { _id: record.siteKey, ...record })
  }

  async list (): Promise<SiteRecord[]> {
    return await this.#sites.find<SiteRecord>({}, withoutId).sort({ _id: 1 }).toArray()
  }
}
