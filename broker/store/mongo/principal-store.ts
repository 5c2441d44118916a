/**
 * Principals and sites in MongoDB:
 *
 *   principals           { _id: uid, ...PrincipalRecord }   index { role, _id } (list by role, uid order)
 *   principal_deletions  { _id: uid, at }                   when a uid was last deleted
 *   sites                { _id: siteKey, ...SiteRecord }
 *
 * Records are stored as they are with the natural key as `_id`, and read back without it, so
 * what `get` and `list` return deep-equals what was put.
 *
 * `replace` is one replaceOne filtered on the uid and the incarnation: on MongoDB a deletion (or
 * a deletion and a new create) and a replace cannot interleave. FerretDB's replace reads, then
 * writes by _id without checking the filter again (connect.ts): a replace that read the old
 * record just before a delete and a new create could write it over the new one. The service
 * waits out the principal cache after a deletion before creating the uid again (principals/
 * service.ts), far longer than a replace in flight takes. [IM-AUTH-8]
 */
import type { Collection, Db, Filter } from 'mongodb'
import { ImError } from '../../../shared/errors.js'
import type { PrincipalRecord, PrincipalStore, SiteRecord, SiteStore } from '../ports.js'
import { isDuplicateKey, replaceOrInsert } from './connect.js'

type PrincipalDoc = PrincipalRecord & { _id: string }
interface DeletionDoc { _id: string, at: number }
type SiteDoc = SiteRecord & { _id: string }

const withoutId = { projection: { _id: 0 } } as const

export class MongoPrincipalStore implements PrincipalStore {
  readonly #principals: Collection<PrincipalDoc>
  readonly #deletions: Collection<DeletionDoc>

  constructor (db: Db) {
    this.#principals = db.collection<PrincipalDoc>('principals')
    this.#deletions = db.collection<DeletionDoc>('principal_deletions')
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

  async replace (record: PrincipalRecord): Promise<boolean> {
    const filter: Filter<PrincipalDoc> = { _id: record.uid, incarnation: record.incarnation ?? { $exists: false } }
    return (await this.#principals.replaceOne(filter, record)).matchedCount === 1
  }

  async delete (uid: string, at: number): Promise<boolean> {
    // The deletion is remembered first: should the broker stop between the two writes, a later
    // create of the uid still waits for the caches (principals/service.ts).
    if (await this.#principals.countDocuments({ _id: uid }, { limit: 1 }) === 0) return false
    await replaceOrInsert(this.#deletions, { _id: uid, at })
    return (await this.#principals.deleteOne({ _id: uid })).deletedCount === 1
  }

  async deletedAt (uid: string): Promise<number | undefined> {
    return (await this.#deletions.findOne({ _id: uid }))?.at
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
