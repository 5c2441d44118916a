/** `GET /healthz` and `GET /metrics` (Prometheus text format). */
import type { FastifyInstance } from 'fastify'
import type { HttpDeps } from '../app.js'

export function opsRoutes (app: FastifyInstance, { metrics, health }: HttpDeps): void {
  app.get('/healthz', async (_request, reply) => {
    const status = health()
    return await reply.code(status.ok ? 200 : 503).send(status)
  })

  app.get('/metrics', async (_request, reply) => {
    return await reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}
