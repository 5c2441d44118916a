/**
 * Bearer-token checks for HTTP routes. The token proves who is calling; what that principal may
 * do (its role, whether it is still enabled, whether the token was revoked) comes from the store
 * on every request, as for MQTT CONNECT. [IM-AUTH-3], [IM-AUTH-6]
 */
import type { FastifyRequest } from 'fastify'
import { ImError } from '../../shared/errors.js'
import type { Role } from '../../shared/identity.js'
import type { AccessClaims } from '../auth/tokens.js'
import type { PrincipalService } from '../principals/service.js'

export type HttpCaller = Required<Pick<AccessClaims, 'uid' | 'role'>> & Pick<AccessClaims, 'site'>

export async function requirePrincipal (principals: PrincipalService, request: FastifyRequest, roles?: readonly Role[]): Promise<HttpCaller> {
  const header = request.headers.authorization
  const match = header?.match(/^Bearer\s+(\S+)$/i)
  if (!match?.[1]) throw new ImError('IM_ERR_UNAUTHENTICATED')
  const principal = await principals.authenticateToken(match[1])
  if (roles && !roles.includes(principal.role)) throw new ImError('IM_ERR_FORBIDDEN')
  return { uid: principal.uid, role: principal.role, ...(principal.site ? { site: principal.site } : {}) }
}
