/** `POST /api/v1/login`, `POST /api/v1/visitors`, `GET /api/v1/me`. [IM-AUTH-3], [IM-AUTH-4] */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { ImError } from '../../../shared/errors.js'
import { UID_PATTERN } from '../../../shared/identity.js'
import type { HttpDeps } from '../app.js'
import { requirePrincipal } from '../auth.js'
import { parseBody } from '../errors.js'

const loginBody = z.object({ uid: z.string().regex(UID_PATTERN, 'uid must be 1–64 of [A-Za-z0-9_-]'), password: z.string().min(1).max(1024) })
const visitorBody = z.object({
  siteKey: z.string().min(1).max(128),
  token: z.string().max(4096).optional(),
  identityToken: z.string().max(8192).optional()
})

export function authRoutes (app: FastifyInstance, { principals, stores, limits }: HttpDeps): void {
  app.post('/api/v1/login', async (request) => {
    const { uid, password } = parseBody(loginBody, request)
    // Counted before the password is checked, so concurrent guesses cannot all pass. [IM-LIMIT-1]
    const attempt = await limits.login.admit(uid, request.ip)
    let identity
    try {
      identity = await principals.login(uid, password)
    } catch (err) {
      // A wrong password keeps counting; anything else (a disabled principal, whose password was
      // right; hashing that never ran) does not.
      if (!(err instanceof ImError && err.code === 'IM_ERR_BAD_CREDENTIALS')) await attempt.giveBack()
      throw err
    }
    await attempt.succeeded()
    return identity
  })

  app.post('/api/v1/visitors', async (request) => {
    const body = parseBody(visitorBody, request)
    await limits.visitorRequest(request.ip) // [IM-LIMIT-1]
    return await principals.visitor({ ...body, ip: request.ip })
  })

  app.get('/api/v1/me', async (request) => {
    const claims = await requirePrincipal(principals, request)
    const record = await stores.principals.get(claims.uid)
    if (!record) throw new ImError('IM_ERR_UNAUTHENTICATED')
    return { uid: record.uid, role: record.role, name: record.name, site: record.site, grants: record.grants }
  })
}
