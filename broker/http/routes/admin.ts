/** Admin API: principals and sites. Every route needs an admin token. */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { ROLES, UID_PATTERN } from '../../../shared/identity.js'
import type { PrincipalRecord } from '../../store/ports.js'
import type { HttpDeps } from '../app.js'
import { requirePrincipal } from '../auth.js'
import { parseBody, parseQuery } from '../errors.js'

const filterList = z.array(z.string().min(1).max(256)).max(1000)
const principalBody = z.object({
  uid: z.string().regex(UID_PATTERN, 'uid must be 1–64 of [A-Za-z0-9_-]').optional(),
  role: z.enum(['user', 'agent', 'admin', 'device']),
  name: z.string().min(1).max(200).optional(),
  password: z.string().min(8, 'password must be at least 8 characters').max(1024).optional(),
  secret: z.string().min(16, 'a device secret must be at least 16 characters').max(1024).optional(),
  grants: z.object({ presence: filterList.optional(), channels: filterList.optional() }).optional()
})
const siteBody = z.object({ name: z.string().min(1).max(200) })
const roleQuery = z.object({ role: z.enum(ROLES).optional() })

/** A principal as the API shows it: never a hash. */
export function publicPrincipal (p: PrincipalRecord) {
  return { uid: p.uid, role: p.role, name: p.name, site: p.site, grants: p.grants, createdAt: p.createdAt }
}

export function adminRoutes (app: FastifyInstance, { principals, tokens, stores }: HttpDeps): void {
  app.addHook('onRequest', async (request) => {
    if (request.url.startsWith('/api/v1/admin/')) await requirePrincipal(tokens, request, ['admin'])
  })

  app.post('/api/v1/admin/principals', async (request, reply) => {
    const body = parseBody(principalBody, request)
    const created = await principals.create(body)
    return await reply.code(201).send(publicPrincipal(created))
  })

  app.get('/api/v1/admin/principals', async (request) => {
    const { role } = parseQuery(roleQuery, request)
    return { principals: (await stores.principals.list(role ? { role } : {})).map(publicPrincipal) }
  })

  app.post('/api/v1/admin/sites', async (request, reply) => {
    const { name } = parseBody(siteBody, request)
    return await reply.code(201).send(await principals.createSite(name))
  })

  app.get('/api/v1/admin/sites', async () => ({ sites: await stores.sites.list() }))
}
