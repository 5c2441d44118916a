/**
 * The visitor's identity: `POST /api/v1/visitors` with the site key gives a visitor uid and token;
 * the token is kept in localStorage, so every later page load and every tab of the site presents
 * it and stays the same visitor (the broker renews it) [IM-AUTH-4]. A signed-in user of the host
 * site is identified by the site's signed identity token instead.
 */
import { ImError, isErrorCode } from '../../shared/errors.js'
import type { SiteStorage } from './storage.js'

export interface VisitorIdentity { uid: string, token: string, expiresAt: number }

const KEY = 'identity'
/** renew a token this long before it expires */
const RENEW_MARGIN_MS = 60_000

export class VisitorIdentitySource {
  readonly #server: string
  readonly #site: string
  readonly #storage: SiteStorage
  /** used once, on the first request of this page; renewals present the token it gave */
  #identityToken: string | undefined
  #current: VisitorIdentity | undefined
  #pending: Promise<VisitorIdentity> | undefined
  /**
   * The current identity was made by the broker for this page just now (nothing to present: no
   * stored token, no identity token, or a stored token the broker no longer took): a visitor that
   * new has no chat yet.
   */
  minted = false

  constructor (o: { server: string, site: string, storage: SiteStorage, identityToken?: string }) {
    this.#server = o.server
    this.#site = o.site
    this.#storage = o.storage
    this.#identityToken = o.identityToken
    this.#current = o.storage.get<VisitorIdentity>(KEY)
  }

  /** The stored identity while its token is fresh, otherwise a renewed or new one. */
  async get (): Promise<VisitorIdentity> {
    const now = Date.now()
    if (this.#current && this.#current.expiresAt - RENEW_MARGIN_MS > now && !this.#identityToken) return this.#current
    return await this.renew()
  }

  /** Asks the broker again (another tab may have renewed meanwhile: the newest stored token goes). */
  async renew (): Promise<VisitorIdentity> {
    this.#pending ??= this.#fetch().finally(() => { this.#pending = undefined })
    return await this.#pending
  }

  async #fetch (): Promise<VisitorIdentity> {
    const stored = this.#storage.get<VisitorIdentity>(KEY) ?? this.#current
    const body = {
      siteKey: this.#site,
      ...(stored ? { token: stored.token } : {}),
      ...(this.#identityToken ? { identityToken: this.#identityToken } : {})
    }
    const response = await fetch(new URL('/api/v1/visitors', this.#server), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body)
    })
    const answer = await response.json().catch(() => undefined) as Partial<VisitorIdentity> & { error?: { code?: unknown, message?: string } } | undefined
    if (!response.ok || typeof answer?.uid !== 'string' || typeof answer.token !== 'string') {
      const code = answer?.error?.code
      throw isErrorCode(code) ? new ImError(code, answer?.error?.message) : new Error(`POST /api/v1/visitors: HTTP ${response.status}`)
    }
    const identity: VisitorIdentity = { uid: answer.uid, token: answer.token, expiresAt: Number(answer.expiresAt) || Date.now() + 3_600_000 }
    this.minted = body.identityToken === undefined && identity.uid !== stored?.uid
    this.#current = identity
    this.#identityToken = undefined
    this.#storage.set(KEY, identity)
    return identity
  }
}
