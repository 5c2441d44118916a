/**
 * Access tokens: HS256 JWTs (jose) issued by this broker, and identity tokens signed by a site's
 * own backend with that site's secret. [IM-AUTH-2]
 */
import { SignJWT, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import { ImError } from '../../shared/errors.js'
import { isRole, isUid, type Role } from '../../shared/identity.js'

export interface AccessClaims {
  uid: string
  role: Role
  /** the site of a visitor */
  site?: string
  /** the principal's token generation when the token was issued (absent = 0) [IM-AUTH-6] */
  gen?: number
  /**
   * the incarnation of the principal the token was issued to (principals/incarnation.ts); absent
   * in tokens issued before incarnations existed [IM-AUTH-8]
   */
  inc?: string
  /** when the token was issued (seconds), as verified; set by `verify` only */
  iat?: number
}

export interface IssuedToken {
  token: string
  expiresAt: number
}

const ISSUER = 'mqtt-im'
const ALG = 'HS256'

export class TokenService {
  readonly #key: Uint8Array
  readonly #ttlSeconds: number
  readonly #now: () => number

  constructor (key: Uint8Array, ttlSeconds: number, now: () => number = Date.now) {
    this.#key = key
    this.#ttlSeconds = ttlSeconds
    this.#now = now
  }

  async issue (claims: AccessClaims): Promise<IssuedToken> {
    const iat = Math.floor(this.#now() / 1000)
    const exp = iat + this.#ttlSeconds
    const jwt = new SignJWT({ role: claims.role, ...(claims.site ? { site: claims.site } : {}), ...(claims.gen ? { gen: claims.gen } : {}), ...(claims.inc ? { inc: claims.inc } : {}) })
      .setProtectedHeader({ alg: ALG, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(claims.uid)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
    return { token: await jwt.sign(this.#key), expiresAt: exp * 1000 }
  }

  /**
   * Verifies a token of ours. `graceSeconds` accepts a token expired at most that long ago —
   * used only to let a returning visitor keep its identity. [IM-AUTH-4]
   */
  async verify (token: string, graceSeconds = 0): Promise<AccessClaims> {
    const payload = await verifyJwt(token, this.#key, { issuer: ISSUER, clockTolerance: graceSeconds, currentDate: new Date(this.#now()) })
    const uid = payload.sub
    const role = payload.role
    if (!isUid(uid) || !isRole(role)) throw new ImError('IM_ERR_UNAUTHENTICATED')
    const site = typeof payload.site === 'string' ? payload.site : undefined
    const gen = typeof payload.gen === 'number' && Number.isSafeInteger(payload.gen) ? payload.gen : 0
    // A claim of the wrong type fits no incarnation (never taken for an absent one).
    const inc = payload.inc === undefined ? undefined : typeof payload.inc === 'string' ? payload.inc : ''
    const iat = typeof payload.iat === 'number' && Number.isFinite(payload.iat) ? payload.iat : undefined
    return { uid, role, ...(site ? { site } : {}), gen, ...(inc !== undefined ? { inc } : {}), ...(iat !== undefined ? { iat } : {}) }
  }
}

/** Claims a site's backend puts in an identity token for one of its logged-in users. [IM-AUTH-5] */
export interface SiteIdentity {
  /** the host site's own user id */
  sub: string
  name?: string
  email?: string
}

export async function verifySiteIdentity (token: string, siteSecret: string, siteKey: string, now: number): Promise<SiteIdentity> {
  const payload = await verifyJwt(token, new TextEncoder().encode(siteSecret), { issuer: siteKey, currentDate: new Date(now) })
  if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) {
    throw new ImError('IM_ERR_BAD_REQUEST', 'The identity token needs a `sub` claim (1–256 characters).')
  }
  if (payload.exp === undefined) throw new ImError('IM_ERR_BAD_REQUEST', 'The identity token needs an `exp` claim.')
  return {
    sub: payload.sub,
    ...(typeof payload.name === 'string' ? { name: payload.name.slice(0, 200) } : {}),
    ...(typeof payload.email === 'string' ? { email: payload.email.slice(0, 320) } : {})
  }
}

/** True when `value` has the shape of a compact JWT (three base64url parts). */
export function looksLikeJwt (value: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value)
}

/** The `iss` of a JWT without checking it — only to pick the key to check it with. */
export function unverifiedIssuer (token: string): string | undefined {
  try {
    return decodeJwt(token).iss
  } catch {
    return undefined
  }
}

async function verifyJwt (token: string, key: Uint8Array, options: { issuer: string, clockTolerance?: number, currentDate: Date }): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: [ALG], ...options })
    return payload
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new ImError('IM_ERR_TOKEN_EXPIRED')
    throw new ImError('IM_ERR_UNAUTHENTICATED')
  }
}
