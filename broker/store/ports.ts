/**
 * Store interfaces (ports). The broker talks to storage only through these; the embedded
 * LevelDB implementation lives in `store/level/`, and every implementation must pass the
 * contract suites in `test/contracts/`.
 */
import type { Role } from '../../shared/identity.js'

/** What a principal may see beyond its own inbox. `'*'` grants every uid / channel. [IM-ACL-3] */
export interface Grants {
  /** uids whose retained presence `im/p/{uid}` this principal may subscribe to */
  presence: string[]
  /** broadcast channels `im/b/{channel}` this principal may subscribe to (`support/queue`, `news/#`) */
  channels: string[]
}

export interface PrincipalRecord {
  uid: string
  role: Role
  name?: string
  /** argon2id hash of the password (users, agents, admins) */
  passwordHash?: string
  /** argon2id hash of the device secret (devices) */
  secretHash?: string
  /** the site a visitor belongs to */
  site?: string
  /** host-site identity of a verified visitor: the `sub` of the site-signed token */
  externalId?: string
  email?: string
  grants: Grants
  createdAt: number
  updatedAt: number
}

export interface PrincipalStore {
  get (uid: string): Promise<PrincipalRecord | undefined>
  /** Creates the principal; rejects with `IM_ERR_PRINCIPAL_EXISTS` when the uid is taken. Atomic. */
  create (record: PrincipalRecord): Promise<void>
  /** Creates or replaces the principal. */
  put (record: PrincipalRecord): Promise<void>
  list (filter?: { role?: Role }): Promise<PrincipalRecord[]>
}

export interface SiteRecord {
  /** public key the widget presents (`data-site`) */
  siteKey: string
  name: string
  /** shared secret the site's backend signs identity tokens with (HS256) */
  secret: string
  createdAt: number
}

export interface SiteStore {
  get (siteKey: string): Promise<SiteRecord | undefined>
  create (record: SiteRecord): Promise<void>
  list (): Promise<SiteRecord[]>
}
