/**
 * The metrics listener: `GET /metrics` (Prometheus text format) and `GET /healthz` on a port of
 * their own (`METRICS_PORT`), bound to `METRICS_HOST` — 127.0.0.1 unless configured otherwise.
 * [IM-HTTP-3]
 *
 * A port apart, not a rule about who is asking on the public port: a reverse proxy on the same
 * machine that adds no forwarding header looks exactly like a local scraper there, so no check
 * of the peer's address can tell them apart. Nothing reaches this port unless someone routes it
 * on purpose. With `METRICS_TOKEN` set, this port asks for it too (config/schema.ts refuses a
 * non-loopback `METRICS_HOST` without one).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { ImError } from '../../shared/errors.js'
import type { Metrics } from '../ops/metrics.js'
import type { HealthStatus } from './app.js'
import { requireMetricsToken } from './routes/ops.js'

export interface MetricsListenerDeps {
  metrics: Metrics
  health: () => Promise<HealthStatus>
  /** bearer token the scraper must present; absent: whoever reaches the port */
  token?: string
}

export function createMetricsListener ({ metrics, health, token }: MetricsListenerDeps): Server {
  const server = createServer((request, response) => {
    answer(request, response).catch((err: unknown) => {
      const error = err instanceof ImError ? err : new ImError('IM_ERR_INTERNAL')
      sendJson(response, error.status, { error: error.toBody() })
    })
  })
  async function answer (request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '').split('?')[0]
    if (request.method !== 'GET' && request.method !== 'HEAD') throw new ImError('IM_ERR_NOT_FOUND')
    if (path === '/metrics') {
      if (token !== undefined) requireMetricsToken(request.headers.authorization, token)
      const text = await metrics.registry.metrics()
      response.writeHead(200, { 'content-type': metrics.registry.contentType, 'x-content-type-options': 'nosniff' })
      response.end(text)
      return
    }
    if (path === '/healthz') {
      const status = await health()
      sendJson(response, status.ok ? 200 : 503, status)
      return
    }
    throw new ImError('IM_ERR_NOT_FOUND')
  }
  // a scraper keeps its connection open between scrapes; a closing broker must not wait for it
  server.keepAliveTimeout = 5000
  return server
}

function sendJson (response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) { response.destroy(); return }
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}
