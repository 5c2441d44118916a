/**
 * `GET /healthz` and, with `METRICS_TOKEN` set, `GET /metrics` (Prometheus text format) on the
 * public HTTP port.
 *
 * The metrics tell an outsider how busy the broker is, who fails to log in and which limits
 * trip, so they are not public [IM-HTTP-3]. They have a listener of their own, bound to this
 * machine (http/metrics-listener.ts); the public port serves them only to a scraper presenting
 * `METRICS_TOKEN` as a bearer token. Without a token the route does not exist here: nothing on
 * the public port can be reached by a same-host proxy that adds no forwarding header, or by
 * anything else that merely arrives from a loopback address.
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { ImError } from '../../../shared/errors.js'
import type { HttpDeps } from '../app.js'

export function opsRoutes (app: FastifyInstance, { metrics, health }: HttpDeps, metricsToken?: string): void {
  app.get('/healthz', async (_request, reply) => {
    const status = await health()
    return await reply.code(status.ok ? 200 : 503).send(status)
  })

  if (metricsToken === undefined) return
  app.get('/metrics', async (request, reply) => {
    requireMetricsToken(request.headers.authorization, metricsToken)
    return await reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}

/** Throws `IM_ERR_UNAUTHENTICATED` unless `authorization` is `Bearer <token>`. */
export function requireMetricsToken (authorization: string | undefined, token: string): void {
  const presented = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? ''
  if (!sameSecret(presented, token)) throw new ImError('IM_ERR_UNAUTHENTICATED', 'Metrics need `Authorization: Bearer <METRICS_TOKEN>`.')
}

function sameSecret (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
