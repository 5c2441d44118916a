/**
 * The HTTP side of the broker: the JSON API, health and metrics, and — on the same port — the
 * MQTT-over-WebSocket upgrade at `/mqtt`. Built once per listener (HTTP, and HTTPS when TLS is
 * configured) from the same routes.
 */
import { STATUS_CODES, createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import cors, { type FastifyCorsOptions } from '@fastify/cors'
import helmet from '@fastify/helmet'
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify'
import { ImError } from '../../shared/errors.js'
import type { RateLimits } from '../limits/rate-limits.js'
import type { Logger } from '../ops/logger.js'
import type { Metrics } from '../ops/metrics.js'
import type { PrincipalAdmin } from '../principals/admin.js'
import type { PrincipalService } from '../principals/service.js'
import type { ClusterHealth } from '../cluster/emitter.js'
import type { ConversationService } from '../im/conversations.js'
import type { StoreHealth } from '../store/backend.js'
import type { ConversationStore, MessageStore, PrincipalStore, SiteStore, SupportStore } from '../store/ports.js'
import type { SupportDesk } from '../support/desk.js'
import { compileTrust, type TrustProxy } from '../transport/client-address.js'
import { toImError, sendError } from './errors.js'
import { adminRoutes, looksLikeAdminPath } from './routes/admin.js'
import { authRoutes } from './routes/auth.js'
import { consoleRoutes } from './routes/console.js'
import { widgetRoutes } from './routes/widget.js'
import { conversationRoutes } from './routes/conversations.js'
import { supportRoutes } from './routes/support.js'
import { opsRoutes } from './routes/ops.js'

/**
 * `store`: the database the broker keeps its state in, and whether it answers now. `cluster`: how
 * messages reach the other broker nodes (`single`: there are none), and whether they do now.
 */
/** `cluster` also names this node, how many live nodes it sees, and whether it runs the cluster's timers. */
export interface HealthStatus { ok: boolean, uptimeSeconds: number, clients: number, store: StoreHealth, cluster: ClusterHealth & { node: string, nodes: number, leader: boolean } }

export interface HttpDeps {
  principals: PrincipalService
  admin: PrincipalAdmin
  stores: { principals: PrincipalStore, sites: SiteStore }
  metrics: Metrics
  im: { conversations: ConversationService, messages: MessageStore }
  support: { desk: SupportDesk, store: SupportStore, conversations: ConversationStore }
  health: () => Promise<HealthStatus>
  limits: RateLimits
  log: Logger
}

export interface HttpOptions {
  maxHeaderBytes: number
  maxBodyBytes: number
  corsOrigins: string
  trustProxy: TrustProxy
  /** bearer token for `/metrics` on this port; without it, the metrics are on their own listener only */
  metricsToken?: string
  tls?: { key: Buffer, cert: Buffer }
  /** called for each upgrade request on `/mqtt` */
  onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void
}

export async function buildHttpApp (deps: HttpDeps, options: HttpOptions): Promise<FastifyInstance<Server>> {
  const { log, metrics } = deps
  const app = Fastify<Server>({
    // fastify's own info lines ("Server listening…") would repeat what main.ts prints; keep its warnings.
    loggerInstance: log.child({ part: 'http' }, { level: log.levelVal > 40 ? log.level : 'warn' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodyBytes,
    // request.ip: the peer, or the client a trusted proxy forwarded (TRUST_PROXY)
    trustProxy: compileTrust(options.trustProxy),
    // Both servers take the same size cap on request headers; an oversized header set gets a 431.
    serverFactory: (handler) => options.tls
      ? createHttpsServer({ ...options.tls, maxHeaderSize: options.maxHeaderBytes }, handler) as unknown as Server
      : createHttpServer({ maxHeaderSize: options.maxHeaderBytes }, handler),
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) return
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
      metrics.httpRequests.inc({ route: 'client-error', status })
      socket.end(rawResponse(status, new ImError('IM_ERR_BAD_REQUEST', status === 431 ? 'Request headers too large.' : 'Malformed HTTP request.')))
    }
  })

  await app.register(cors, { delegator: corsPolicy(options.corsOrigins) })
  // nosniff and a deny-everything CSP on every answer (JSON, errors, static files); the console
  // and the widget set their own CSP for what they serve. No HSTS here: a TLS-terminating proxy
  // in front decides that for the whole site.
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"] } },
    crossOriginResourcePolicy: false, // the widget's chunks and the visitor API are fetched from other sites
    crossOriginOpenerPolicy: false,
    hsts: false
  })

  // The API speaks JSON only; any other body type is answered with IM_ERR_UNSUPPORTED_MEDIA_TYPE.
  app.removeContentTypeParser('text/plain')
  app.setErrorHandler((err, _request, reply) => sendError(reply, toImError(err, log)))
  app.setNotFoundHandler((_request, reply) => sendError(reply, new ImError('IM_ERR_NOT_FOUND')))
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode })
  })

  authRoutes(app, deps)
  await adminRoutes(app, deps)
  conversationRoutes(app, deps)
  supportRoutes(app, deps)
  opsRoutes(app, deps, options.metricsToken)
  consoleRoutes(app)
  widgetRoutes(app)
  app.get('/', async () => ({ name: 'mqtt-im', api: '/api/v1', websocket: '/mqtt', health: '/healthz', ...(options.metricsToken ? { metrics: '/metrics' } : {}), console: '/console' }))

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '').split('?')[0]
    if (path !== '/mqtt') {
      socket.end(rawResponse(404, new ImError('IM_ERR_NOT_FOUND', 'WebSocket endpoint is /mqtt.')))
      return
    }
    options.onUpgrade(request, socket, head)
  })
  await app.ready()
  return app
}

function rawResponse (status: number, error: ImError): string {
  const body = JSON.stringify({ error: error.toBody() })
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

/**
 * CORS [IM-HTTP-2]. Every route authenticates with a bearer token in the Authorization header,
 * never a cookie, so a page on another origin cannot act with anyone's credentials: an open CORS
 * policy gives nothing away, and the widget needs it to reach the visitor API from any site. So
 * `CORS_ORIGINS` defaults to `*`. The admin API is the exception: it answers cross-origin
 * requests only from origins listed explicitly, never under `*`.
 */
function corsPolicy (setting: string): (request: FastifyRequest, callback: (err: Error | null, options: FastifyCorsOptions) => void) => void {
  const listed = setting === '*' ? [] : setting.split(',').map((o) => o.trim()).filter((o) => o !== '')
  const base: FastifyCorsOptions = { methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], allowedHeaders: ['Authorization', 'Content-Type'], maxAge: 600 }
  return (request, callback) => {
    const admin = looksLikeAdminPath(request.url)
    const origin = setting === '*' ? !admin && '*' : listed
    callback(null, { ...base, origin })
  }
}
