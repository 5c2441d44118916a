/**
 * Who principals are and how they prove it: creating users, agents, admins and devices; logging
 * in; giving a website visitor an identity (anonymous, or verified by the site's own backend);
 * checking the credentials of an MQTT CONNECT. [IM-AUTH-1..5]
 */
import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { ImError } from '../../shared/errors.js'
import type { Role } from '../../shared/identity.js'
import { PasswordHasher, hashSecret } from '../auth/passwords.js'
import { looksLikeJwt, unverifiedIssuer, verifySiteIdentity, type AccessClaims, type IssuedToken, type TokenService } from '../auth/tokens.js'
import type { Grants, PrincipalRecord, PrincipalStore, SiteRecord, SiteStore } from '../store/ports.js'
import { incarnationOf, newIncarnation, tokenFits } from './incarnation.js'

export interface NewPrincipal {
  uid?: string
  role: Exclude<Role, 'visitor'>
  name?: string
  password?: string
  secret?: string
  grants?: Partial<Grants>
}

export interface Identity extends IssuedToken {
  uid: string
  role: Role
  site?: string
}

/** What each role may see beyond its own inbox unless an admin grants more. [IM-ACL-3] */
export function defaultGrants (role: Role): Grants {
  switch (role) {
    case 'admin': return { presence: ['*'], channels: ['*'] }
    case 'agent': return { presence: ['*'], channels: ['support/queue'] }
    case 'user':
    case 'visitor':
    case 'device': return { presence: [], channels: [] }
  }
}

export interface PrincipalServiceDeps {
  principals: PrincipalStore
  sites: SiteStore
  tokens: TokenService
  /** hashes and checks passwords and device secrets (default: uncounted) */
  passwords?: PasswordHasher
  /** how long after expiry a visitor token still proves the visitor's identity */
  visitorRenewSeconds: number
  /** called before a new visitor identity is made for a client at `ip`; throws `IM_ERR_RATE_LIMITED` when the site, or that client's network, has had too many [IM-LIMIT-FAIR] */
  admitNewVisitor?: (siteKey: string, ip: string) => Promise<void>
  /**
   * how long after a uid's deletion it may be created again: longer than any node caches a
   * principal, so no node still holds the deleted incarnation when the new one exists [IM-AUTH-8]
   */
  recreateAfterMs?: number
  /**
   * called before a uid deleted earlier is created again: lets go again what the deleted one held
   * (principals/admin.ts `onDeleted`), in case a broker stopped before it had done so
   */
  beforeRecreate?: (uid: string) => Promise<void>
  now?: () => number
}

export class PrincipalService {
  readonly #deps: PrincipalServiceDeps
  readonly #now: () => number
  readonly #passwords: PasswordHasher

  constructor (deps: PrincipalServiceDeps) {
    this.#deps = deps
    this.#now = deps.now ?? Date.now
    this.#passwords = deps.passwords ?? new PasswordHasher()
  }

  async create (input: NewPrincipal): Promise<PrincipalRecord> {
    if (input.role === 'device' ? !input.secret : !input.password) {
      throw new ImError('IM_ERR_BAD_REQUEST', input.role === 'device' ? 'A device needs a `secret`.' : 'A password is required.')
    }
    // A uid of the caller's choice may be one deleted a moment ago; a random one never is.
    if (input.uid !== undefined) await this.#waitOutDeletion(input.uid)
    const now = this.#now()
    const defaults = defaultGrants(input.role)
    const record: PrincipalRecord = {
      uid: input.uid ?? `${input.role.slice(0, 1)}_${randomBytes(12).toString('base64url')}`,
      role: input.role,
      incarnation: newIncarnation(),
      ...(input.name ? { name: input.name } : {}),
      ...(input.password ? { passwordHash: await this.#passwords.hash(input.password) } : {}),
      ...(input.secret ? { secretHash: await this.#passwords.hash(input.secret) } : {}),
      grants: { presence: input.grants?.presence ?? defaults.presence, channels: input.grants?.channels ?? defaults.channels },
      createdAt: now,
      updatedAt: now
    }
    await this.#deps.principals.create(record)
    return record
  }

  /** Creates the `admin` principal, or resets its password (`ADMIN_PASSWORD` at start). */
  async ensureAdmin (password: string): Promise<void> {
    const existing = await this.#deps.principals.get('admin')
    if (!existing) {
      await this.create({ uid: 'admin', role: 'admin', name: 'Administrator', password })
      return
    }
    if (existing.role !== 'admin') throw new Error('ADMIN_PASSWORD is set, but the uid "admin" belongs to a non-admin principal')
    if (await this.#passwords.verify(existing.passwordHash, password)) return
    // Deleted meanwhile (by another admin, through another node): created again instead.
    if (!await this.#deps.principals.replace({ ...existing, passwordHash: await this.#passwords.hash(password), updatedAt: this.#now() })) {
      await this.create({ uid: 'admin', role: 'admin', name: 'Administrator', password })
    }
  }

  async login (uid: string, password: string): Promise<Identity> {
    const principal = await this.#deps.principals.get(uid)
    // Verify against a real hash even for an unknown uid, so timing does not tell which uids exist.
    const ok = await this.#passwords.verify(principal?.passwordHash ?? DUMMY_HASH, password)
    if (!principal || !ok || principal.role === 'visitor' || principal.role === 'device') throw new ImError('IM_ERR_BAD_CREDENTIALS')
    // Said only to someone who knows the password. [IM-AUTH-6]
    if (principal.disabled) throw new ImError('IM_ERR_PRINCIPAL_DISABLED')
    return await this.#identity(principal)
  }

  /**
   * The principal behind an access token, as the store has it now: a deleted or disabled
   * principal, a token of an older generation (revoked) or of another incarnation (issued before
   * the uid was deleted and created again) is refused, and the role is the stored one, whatever
   * the token claims. Used by every authenticated HTTP request and by MQTT CONNECT.
   * [IM-AUTH-6] [IM-AUTH-8]
   */
  async authenticateToken (token: string): Promise<PrincipalRecord> {
    const claims = await this.#deps.tokens.verify(token)
    return await this.#current(claims)
  }

  async #current (claims: AccessClaims): Promise<PrincipalRecord> {
    const principal = await this.#deps.principals.get(claims.uid)
    if (!principal || !tokenFits(claims, principal) || (claims.gen ?? 0) !== (principal.tokenGeneration ?? 0)) throw new ImError('IM_ERR_UNAUTHENTICATED')
    if (principal.disabled) throw new ImError('IM_ERR_PRINCIPAL_DISABLED')
    return principal
  }

  /**
   * A website visitor's identity. With a previous visitor token (even one expired up to
   * `visitorRenewSeconds` ago) the same uid comes back; with an identity token signed by the
   * site's backend the uid is derived from the site's own user id. [IM-AUTH-4], [IM-AUTH-5]
   */
  async visitor (input: { siteKey: string, token?: string, identityToken?: string, ip?: string }): Promise<Identity> {
    const site = await this.#deps.sites.get(input.siteKey)
    if (!site) throw new ImError('IM_ERR_UNKNOWN_SITE')
    if (input.identityToken) return await this.#verifiedVisitor(site, input.identityToken)
    if (input.token) {
      const claims = await this.#deps.tokens.verify(input.token, this.#deps.visitorRenewSeconds).catch(() => undefined)
      if (claims?.role === 'visitor' && claims.site === site.siteKey) {
        const principal = await this.#current(claims).catch(() => undefined)
        if (principal) return await this.#identity(principal)
      }
      // An unusable old token is not an error: the visitor simply starts over.
    }
    await this.#deps.admitNewVisitor?.(site.siteKey, input.ip ?? '')
    const now = this.#now()
    const record: PrincipalRecord = {
      uid: `v_${randomBytes(15).toString('base64url')}`,
      role: 'visitor',
      incarnation: newIncarnation(),
      site: site.siteKey,
      grants: defaultGrants('visitor'),
      createdAt: now,
      updatedAt: now
    }
    await this.#deps.principals.create(record)
    return await this.#identity(record)
  }

  async #verifiedVisitor (site: SiteRecord, identityToken: string): Promise<Identity> {
    const identity = await verifySiteIdentity(identityToken, site.secret, site.siteKey, this.#now())
    const uid = `v_${createHash('sha256').update(`${site.siteKey}\0${identity.sub}`).digest('base64url').slice(0, 27)}`
    const details = { externalId: identity.sub, ...(identity.name ? { name: identity.name } : {}), ...(identity.email ? { email: identity.email } : {}) }
    // The uid is derived, so it may be one an admin deleted: the record is then created anew
    // (a new incarnation), never written back over the deletion. Two tries: a create that lost
    // to a concurrent one updates the winner's record instead.
    for (let attempt = 0; ; attempt++) {
      const existing = await this.#deps.principals.get(uid)
      if (existing?.disabled) throw new ImError('IM_ERR_PRINCIPAL_DISABLED')
      const now = this.#now()
      if (existing) {
        const record: PrincipalRecord = { ...existing, ...details, updatedAt: now }
        if (await this.#deps.principals.replace(record)) return await this.#identity(record)
      } else {
        await this.#waitOutDeletion(uid)
        const record: PrincipalRecord = { uid, role: 'visitor', incarnation: newIncarnation(), site: site.siteKey, grants: defaultGrants('visitor'), ...details, createdAt: now, updatedAt: now }
        try {
          await this.#deps.principals.create(record)
          return await this.#identity(record)
        } catch (err) {
          if (!(err instanceof ImError && err.code === 'IM_ERR_PRINCIPAL_EXISTS')) throw err
        }
      }
      if (attempt === 1) throw new ImError('IM_ERR_INTERNAL', 'The visitor record changed while it was written; try again.')
    }
  }

  /**
   * Before a uid deleted earlier is created again: waits until no node can still cache the
   * deleted record (`recreateAfterMs`), and lets go what it held. [IM-AUTH-8]
   */
  async #waitOutDeletion (uid: string): Promise<void> {
    const deletedAt = await this.#deps.principals.deletedAt(uid)
    // (a uid that exists now is not let go of: its create is refused)
    if (deletedAt === undefined || await this.#deps.principals.get(uid) !== undefined) return
    const hold = this.#deps.recreateAfterMs ?? 0
    const wait = deletedAt + hold - this.#now()
    if (wait > 0) await sleep(Math.min(wait, hold))
    await this.#deps.beforeRecreate?.(uid)
  }

  /**
   * Checks MQTT CONNECT credentials: `username` = uid and `password` = access token, or a
   * device's secret. Any failure is the same `IM_ERR_UNAUTHENTICATED`/`IM_ERR_TOKEN_EXPIRED`,
   * so nothing leaks about which part was wrong. `admitSecret` runs before anything that is no
   * token is checked (a device secret costs an argon2 hash): it throws to refuse, and resolves
   * what forgets the attempt, called when the secret was right. [IM-LIMIT-1]
   */
  async authenticateMqtt (uid: string, password: string, admitSecret?: () => Promise<() => Promise<void>>): Promise<{ principal: PrincipalRecord, claims: AccessClaims }> {
    if (looksLikeJwt(password) && unverifiedIssuer(password) !== undefined) {
      const claims = await this.#deps.tokens.verify(password)
      if (claims.uid !== uid) throw new ImError('IM_ERR_UNAUTHENTICATED')
      const principal = await this.#current(claims)
      return { principal, claims: { ...claims, role: principal.role } }
    }
    const forget = await admitSecret?.()
    const principal = await this.#deps.principals.get(uid)
    if (principal?.role !== 'device' || !await this.#passwords.verify(principal.secretHash, password)) throw new ImError('IM_ERR_UNAUTHENTICATED')
    await forget?.()
    if (principal.disabled) throw new ImError('IM_ERR_PRINCIPAL_DISABLED')
    return { principal, claims: { uid, role: 'device' } }
  }

  async createSite (name: string): Promise<SiteRecord> {
    const site: SiteRecord = {
      siteKey: `site_${randomBytes(9).toString('base64url')}`,
      name,
      secret: randomBytes(32).toString('base64url'),
      createdAt: this.#now()
    }
    await this.#deps.sites.create(site)
    return site
  }

  async #identity (principal: PrincipalRecord): Promise<Identity> {
    const issued = await this.#deps.tokens.issue({ uid: principal.uid, role: principal.role, ...(principal.site ? { site: principal.site } : {}), gen: principal.tokenGeneration ?? 0, inc: incarnationOf(principal) })
    return { uid: principal.uid, role: principal.role, ...(principal.site ? { site: principal.site } : {}), ...issued }
  }
}

// argon2id hash of a random string nobody knows; makes failed logins for unknown uids cost the same.
const DUMMY_HASH = await hashSecret(randomBytes(16).toString('hex'))
