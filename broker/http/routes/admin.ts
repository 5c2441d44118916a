/**
 * Admin API: principals and sites. Every route needs an admin, and the check is made on the
 * route fastify matched, not on the raw URL: the routes live in one encapsulated scope whose
 * `onRequest` guard runs after routing, whatever spelling of the path reached them
 * (`/api/v1/%61dmin/…`, `//api/v1/admin/…`). A second wall answers anything that merely looks
 * like the admin API (mixed case, dot segments) with 401/403 instead of 404. [IM-AUTH-7]
 */
import { posix } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import { z } from 'zod'
import { ROLES, UID_PATTERN } from '../../../shared/identity.js'
import type { PrincipalRecord } from '../../store/ports.js'
import type { HttpDeps } from '../app.js'
import { requirePrincipal } from '../auth.js'
import { parseBody, parseParams, parseQuery } from '../errors.js'

export const ADMIN_PREFIX = '/api/v1/admin'

const uid = z.string().regex(UID_PATTERN, 'uid must be 1–64 of [A-Za-z0-9_-]')
const filterList = z.array(z.string().min(1).max(256)).max(1000)
const principalBody = z.object({
  uid: uid.optional(),
  role: z.enum(['user', 'agent', 'admin', 'device']),
  name: z.string().min(1).max(200).optional(),
  password: z.string().min(8, 'password must be at least 8 characters').max(1024).optional(),
  secret: z.string().min(16, 'a device secret must be at least 16 characters').max(1024).optional(),
  grants: z.object({ presence: filterList.optional(), channels: filterList.optional() }).optional()
})
const siteBody = z.object({ name: z.string().min(1).max(200) })
const roleQuery = z.object({ role: z.enum(ROLES).optional() })
const uidParams = z.object({ uid })
const siteParams = z.object({ siteKey: z.string().min(1).max(128) })

/** A principal as the API shows it: never a hash. */
export function publicPrincipal (p: PrincipalRecord) {
  return { uid: p.uid, role: p.role, name: p.name, site: p.site, grants: p.grants, disabled: p.disabled === true, createdAt: p.createdAt }
}

interface AdminRoute {
  method: HTTPMethods
  /** below ADMIN_PREFIX */
  url: string
  handler: (deps: HttpDeps, request: FastifyRequest, reply: FastifyReply, actor: string) => Promise<unknown>
}

/** Every admin route; the security tests walk this list. */
export const ADMIN_ROUTES: readonly AdminRoute[] = [
  {
    method: 'POST', url: '/principals',
    handler: async ({ principals }, request, reply) => await reply.code(201).send(publicPrincipal(await principals.create(parseBody(principalBody, request))))
  },
  {
    method: 'GET', url: '/principals',
    handler: async ({ stores }, request) => {
      const { role } = parseQuery(roleQuery, request)
      return { principals: (await stores.principals.list(role ? { role } : {})).map(publicPrincipal) }
    }
  },
  {
    method: 'GET', url: '/principals/:uid',
    handler: async ({ admin }, request) => publicPrincipal(await admin.get(parseParams(uidParams, request).uid))
  },
  {
    method: 'DELETE', url: '/principals/:uid',
    handler: async ({ admin }, request, _reply, actor) => {
      const target = parseParams(uidParams, request).uid
      await admin.delete(actor, target)
      return { deleted: target }
    }
  },
  {
    method: 'POST', url: '/principals/:uid/disable',
    handler: async ({ admin }, request, _reply, actor) => publicPrincipal(await admin.setDisabled(actor, parseParams(uidParams, request).uid, true))
  },
  {
    method: 'POST', url: '/principals/:uid/enable',
    handler: async ({ admin }, request, _reply, actor) => publicPrincipal(await admin.setDisabled(actor, parseParams(uidParams, request).uid, false))
  },
  {
    method: 'POST', url: '/principals/:uid/revoke-tokens',
    handler: async ({ admin }, request) => publicPrincipal(await admin.revokeTokens(parseParams(uidParams, request).uid))
  },
  {
    method: 'POST', url: '/sites',
    handler: async ({ principals }, request, reply) => await reply.code(201).send(await principals.createSite(parseBody(siteBody, request).name))
  },
  {
    method: 'GET', url: '/sites',
    handler: async ({ stores }) => ({ sites: await stores.sites.list() })
  },
  {
    method: 'POST', url: '/sites/:siteKey/rotate-secret',
    handler: async ({ admin }, request) => await admin.rotateSiteSecret(parseParams(siteParams, request).siteKey)
  }
]

export async function adminRoutes (app: FastifyInstance, deps: HttpDeps): Promise<void> {
  // Defence in depth, for every request: a path that normalizes to the admin prefix needs an
  // admin even when no route matches it.
  app.addHook('onRequest', async (request) => {
    if (looksLikeAdminPath(request.url)) await requirePrincipal(deps.principals, request, ['admin'])
  })

  await app.register(async (scope) => {
    const actors = new WeakMap<FastifyRequest, string>()
    scope.addHook('onRequest', async (request) => {
      actors.set(request, (await requirePrincipal(deps.principals, request, ['admin'])).uid)
    })
    for (const route of ADMIN_ROUTES) {
      scope.route({
        method: route.method,
        url: route.url,
        handler: async (request, reply) => await route.handler(deps, request, reply, actors.get(request) ?? '')
      })
    }
  }, { prefix: ADMIN_PREFIX })
}

/**
 * Would this raw request path reach the admin API under some decoding? Percent-decoding (also
 * twice), `\`, `;` parameters, repeated slashes, dot segments and case are all undone first.
 */
export function looksLikeAdminPath (rawUrl: string): boolean {
  let path = rawUrl.split('?')[0] ?? ''
  for (let i = 0; i < 3; i++) {
    try {
      const decoded = decodeURIComponent(path)
      if (decoded === path) break
      path = decoded
    } catch {
      break
    }
  }
  path = path.replaceAll('\\', '/').replace(/;[^/]*/g, '').replace(/\/{2,}/g, '/')
  const normalized = posix.normalize(path.startsWith('/') ? path : `/${path}`).toLowerCase()
  return normalized === ADMIN_PREFIX || normalized.startsWith(`${ADMIN_PREFIX}/`)
}
