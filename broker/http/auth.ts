/** Bearer-token checks for HTTP routes. [IM-AUTH-3] */
import type { FastifyRequest } from 'fastify'
import { ImError } from '../../shared/errors.js'
import type { Role } from '../../shared/identity.js'
import type { AccessClaims, TokenService } from '../auth/tokens.js'

export async function requirePrincipal (tokens: TokenService, request: FastifyRequest, roles?: readonly Role[]): Promise<AccessClaims> {
  const header = request.headers.authorization
  const match = header?.match(/^Bearer\s+(\S+)$/i)
  if (!match?.[1]) throw new ImError('IM_ERR_UNAUTHENTICATED')
  const claims = await tokens.verify(match[1])
  if (roles && !roles.includes(claims.role)) throw new ImError('IM_ERR_FORBIDDEN')
  return claims
}
