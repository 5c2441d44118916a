/**
 * `GET /healthz` and `GET /metrics` (Prometheus text format).
 *
 * The metrics tell an outsider how busy the broker is, who fails to log in and which limits
 * trip, so they are not public [IM-HTTP-3]: with `METRICS_TOKEN` set, a scraper presents it as a
 * bearer token (from anywhere); without it, only a client on this machine may read them — a
 * loopback peer whose request carries no proxy header, so a reverse proxy on the same machine
 * does not expose them to the world.
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ImError } from '../../../shared/errors.js'
import type { HttpDeps } from '../app.js'

const PROXY_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const

export function opsRoutes (app: FastifyInstance, { metrics, health }: HttpDeps, metricsToken?: string): void {
  app.get('/healthz', async (_request, reply) => {
    const status = await health()
    return await reply.code(status.ok ? 200 : 503).send(status)
  })

  app.get('/metrics', async (request, reply) => {
    requireMetricsAccess(request, metricsToken)
    return await reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}

export function requireMetricsAccess (request: FastifyRequest, token: string | undefined): void {
  if (token !== undefined) {
    const presented = request.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? ''
    if (!sameSecret(presented, token)) throw new ImError('IM_ERR_UNAUTHENTICATED', 'Metrics need `Authorization: Bearer <METRICS_TOKEN>`.')
    return
  }
  const proxied = PROXY_HEADERS.some((h) => request.headers[h] !== undefined)
  if (!isLoopback(request.socket.remoteAddress) || proxied) {
    throw new ImError('IM_ERR_FORBIDDEN', 'Metrics are served to this machine only; set METRICS_TOKEN to scrape them from elsewhere.')
  }
}

export function isLoopback (address: string | undefined): boolean {
  if (!address) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

function sameSecret (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
