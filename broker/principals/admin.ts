/**
 * What an admin does to principals and sites after creating them: disable and enable, delete,
 * revoke every token, rotate a site's signing secret. Each change that takes access away also
 * closes the principal's live MQTT connections (through `onAccessRevoked`). [IM-AUTH-6]
 */
import { randomBytes } from 'node:crypto'
import { ImError } from '../../shared/errors.js'
import type { PrincipalRecord, PrincipalStore, SiteRecord, SiteStore } from '../store/ports.js'

export interface PrincipalAdminDeps {
  principals: PrincipalStore
  sites: SiteStore
  now: () => number
  /** called after a principal lost its access: its connections are closed */
  onAccessRevoked: (uid: string, reason: RevokeReason) => void
  /**
   * called after a principal was deleted: what its uid still holds elsewhere (conversation
   * memberships, persistent sessions) is let go, so a principal created later under the same uid
   * starts with nothing of it [IM-AUTH-8]
   */
  onDeleted?: (uid: string) => Promise<void>
}

export type RevokeReason = 'disabled' | 'deleted' | 'tokens-revoked'

export class PrincipalAdmin {
  readonly #deps: PrincipalAdminDeps

  constructor (deps: PrincipalAdminDeps) {
    this.#deps = deps
  }

  async get (uid: string): Promise<PrincipalRecord> {
    const principal = await this.#deps.principals.get(uid)
    if (!principal) throw new ImError('IM_ERR_NOT_FOUND', `No principal ${uid}.`)
    return principal
  }

  async setDisabled (actor: string, uid: string, disabled: boolean): Promise<PrincipalRecord> {
    if (disabled && actor === uid) throw new ImError('IM_ERR_BAD_REQUEST', 'An admin cannot disable itself.')
    const next = await this.#change(uid, (p) => ({ ...p, disabled }))
    if (disabled) this.#deps.onAccessRevoked(uid, 'disabled')
    return next
  }

  /**
   * Removes the principal; its conversations and messages stay with the other members, and it
   * leaves them (`onDeleted`): a principal created later under the same uid is a stranger to
   * them. [IM-AUTH-8]
   */
  async delete (actor: string, uid: string): Promise<void> {
    if (actor === uid) throw new ImError('IM_ERR_BAD_REQUEST', 'An admin cannot delete itself.')
    if (!await this.#deps.principals.delete(uid, this.#deps.now())) throw new ImError('IM_ERR_NOT_FOUND', `No principal ${uid}.`)
    this.#deps.onAccessRevoked(uid, 'deleted')
    await this.#deps.onDeleted?.(uid)
  }

  /** Every token issued so far stops working; the next login issues tokens of the new generation. */
  async revokeTokens (uid: string): Promise<PrincipalRecord> {
    const next = await this.#change(uid, (p) => ({ ...p, tokenGeneration: (p.tokenGeneration ?? 0) + 1 }))
    this.#deps.onAccessRevoked(uid, 'tokens-revoked')
    return next
  }

  /**
   * A new signing secret for the site's backend. Identity tokens signed with the old secret are
   * refused from now on; visitors already signed in keep their access tokens.
   */
  async rotateSiteSecret (siteKey: string): Promise<SiteRecord> {
    const site = await this.#deps.sites.get(siteKey)
    if (!site) throw new ImError('IM_ERR_NOT_FOUND', `No site ${siteKey}.`)
    const next = { ...site, secret: randomBytes(32).toString('base64url') }
    await this.#deps.sites.put(next)
    return next
  }

  async #change (uid: string, change: (p: PrincipalRecord) => PrincipalRecord): Promise<PrincipalRecord> {
    const current = await this.get(uid)
    const next = { ...change(current), updatedAt: this.#deps.now() }
    // Deleted meanwhile: the change is not written back over the deletion. [IM-AUTH-8]
    if (!await this.#deps.principals.replace(next)) throw new ImError('IM_ERR_NOT_FOUND', `No principal ${uid}.`)
    return next
  }
}
