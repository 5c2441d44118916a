/**
 * A principal's incarnation: which life of a uid a record and a token belong to. [IM-AUTH-8]
 *
 * Deleting a principal frees its uid, and an admin (or a site's backend, for a verified visitor)
 * may create it again. Everything bound to the uid alone would then pass to the newcomer: tokens
 * issued before the deletion, even revoked ones (a new record starts at token generation 0 again).
 * So every principal gets, when it is created, an id that never repeats — 96 random bits — kept
 * in its record in the store (across restarts and nodes), and every access token carries it as
 * the `inc` claim. A token fits only the incarnation it was issued to.
 *
 * Records stored before incarnations existed have none. Their incarnation is derived from their
 * creation time (`legacy-{createdAt}`): stable, the same on every node without a write, and never
 * equal to a random one. Tokens issued before incarnations existed carry no `inc`: they are
 * accepted only for such a record, and only when issued at or after its creation — a token of an
 * earlier life of the uid is older than the record. Any token issued since carries `inc`, so a
 * record created now refuses every token without it.
 */
import { randomBytes } from 'node:crypto'
import type { AccessClaims } from '../auth/tokens.js'
import type { PrincipalRecord } from '../store/ports.js'

const LEGACY = 'legacy-'

/** A new incarnation: 96 random bits, base64url (16 characters). */
export function newIncarnation (): string {
  return randomBytes(12).toString('base64url')
}

/** The record's incarnation, derived for a record stored before incarnations existed. */
export function incarnationOf (record: Pick<PrincipalRecord, 'incarnation' | 'createdAt'>): string {
  return record.incarnation ?? `${LEGACY}${record.createdAt}`
}

/** Was the token issued to this incarnation of the principal? [IM-AUTH-8] */
export function tokenFits (claims: Pick<AccessClaims, 'inc' | 'iat'>, record: Pick<PrincipalRecord, 'incarnation' | 'createdAt'>): boolean {
  if (claims.inc !== undefined) return claims.inc === incarnationOf(record)
  // A token from before incarnations: only for a record from then too, and not older than it
  // (`iat` is in whole seconds, `createdAt` in ms).
  return record.incarnation === undefined && claims.iat !== undefined && claims.iat >= Math.floor(record.createdAt / 1000)
}
