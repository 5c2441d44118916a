import { ImError } from '../../shared/errors.js'
import type { PrincipalService } from '../principals/service.js'
import type { AuthenticateHook } from './types.js'

export interface AuthenticateOptions {
  principals: PrincipalService
  /** anonymous clients (no username) may connect to use the generic namespace */
  allowAnonymous: boolean
  /** counts one CONNECT from an address; throws `IM_ERR_RATE_LIMITED` (CONNACK 3) when over [IM-LIMIT-1] */
  admitConnect?: (address: string) => Promise<void>
  /**
   * counts one secret check (a device secret: an argon2 hash) from an address against the login
   * limit per address; throws `IM_ERR_RATE_LIMITED` (CONNACK 3) when over; resolves what forgets
   * it again (the secret was right) [IM-LIMIT-1]
   */
  admitSecret?: (address: string) => Promise<() => Promise<void>>
}

/** [IM-AUTH-1] `username` = uid, `password` = access token (or a device secret). */
export function createAuthenticate ({ principals, allowAnonymous, admitConnect, admitSecret }: AuthenticateOptions): AuthenticateHook {
  return async ({ clientId, username, password, clean, emptyClientId, remoteAddress }) => {
    // Before any credential is checked: a device secret costs an argon2 verification.
    if (admitConnect && remoteAddress) await admitConnect(remoteAddress)
    // [MQTT-3.1.3-8] a zero-length client id needs a clean session
    if (emptyClientId && !clean) throw new ImError('IM_ERR_IDENTIFIER_REJECTED')
    if (username === undefined && password === undefined) {
      if (!allowAnonymous) throw new ImError('IM_ERR_UNAUTHENTICATED')
      return { clientId, grants: { presence: [], channels: [] } }
    }
    if (!username || !password) throw new ImError('IM_ERR_UNAUTHENTICATED')
    const secretFrom = admitSecret && remoteAddress ? async () => await admitSecret(remoteAddress) : undefined
    const { principal } = await principals.authenticateMqtt(username, password.toString('utf8'), secretFrom)
    return { clientId, uid: principal.uid, role: principal.role, grants: principal.grants }
  }
}
