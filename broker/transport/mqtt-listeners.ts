/**
 * Where a connection enters the broker: MQTT over TCP or TLS, and MQTT over WebSocket (`ws` 8,
 * `createWebSocketStream`). Every connection, whatever its transport, goes through the same packet
 * guard and is then handed to aedes.
 */
import type { IncomingMessage } from 'node:http'
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer } from 'node:tls'
import type { Aedes } from 'aedes'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Logger } from '../ops/logger.js'
import type { Metrics, Transport } from '../ops/metrics.js'
import { compileTrust, rememberAddress, requestAddress, type TrustProxy } from './client-address.js'
import { closesConnection, guardConnection, type GuardRefusal } from './packet-guard.js'
import type { PendingConnects } from './pending-connects.js'

export interface ConnectionHandler {
  (raw: Duplex, transport: Transport, request?: IncomingMessage): void
  /** Destroys every connection still open (used at shutdown, after aedes closed its clients). */
  destroyAll (): void
}

/**
 * `limits`: MAX_PACKET_BYTES and MAX_TOPIC_LEVELS, for the packet guard. `pending`: the
 * connections still waiting for their CONNECT, within their ceilings.
 */
export function createConnectionHandler (aedes: Aedes, limits: { maxPacketBytes: number, maxTopicLevels: number }, log: Logger, metrics: Metrics, pending: PendingConnects, trust: TrustProxy = false): ConnectionHandler {
  const open = new Set<Duplex>()
  const trusted = compileTrust(trust)
  const handle = (raw: Duplex, transport: Transport, request?: IncomingMessage): void => {
    const address = request ? requestAddress(request, trusted) : (raw as Partial<Socket>).remoteAddress
    metrics.connections.inc({ transport })
    open.add(raw)
    pending.add(raw, address)
    metrics.pendingConnects.set(pending.size)
    const connected = (): void => { pending.done(raw); metrics.pendingConnects.set(pending.size) }
    raw.once('close', () => { open.delete(raw); connected(); metrics.connections.dec({ transport }) })
    const refuse = (reason: GuardRefusal): void => {
      metrics.protocolErrors.inc({ reason })
      log.warn({ transport, reason, remote: address }, closesConnection(reason) ? 'connection closed: malformed or oversized MQTT packet' : 'topic filter refused: too many levels')
    }
    // A WebSocket frame above maxPayload is refused by ws itself, before the guard sees it.
    raw.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') refuse('too-large') })
    const guarded = guardConnection(raw, { ...limits, onRefuse: refuse, onFirstPacket: connected })
    rememberAddress(guarded, address)
    aedes.handle(guarded, request)
  }
  return Object.assign(handle, { destroyAll: () => { for (const raw of open) raw.destroy() } })
}

/** `handshakeTimeoutMs`: a TLS handshake not done by then closes the socket (Node's default: 120 s). */
export function listenMqtt (handle: ConnectionHandler, tls?: { key: Buffer, cert: Buffer }, handshakeTimeoutMs?: number): NetServer {
  const onSocket = (socket: Socket): void => {
    socket.setNoDelay(true)
    handle(socket, tls ? 'tls' : 'tcp')
  }
  return tls ? createTlsServer({ ...tls, ...(handshakeTimeoutMs ? { handshakeTimeout: handshakeTimeoutMs } : {}) }, onSocket) : createTcpServer(onSocket)
}

/** The `/mqtt` upgrade: subprotocol `mqtt` (or the older `mqttv3.1`); frames above `maxPayload` close the socket. */
export function webSocketUpgrade (handle: ConnectionHandler, maxPayload: number, transport: Transport) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload,
    perMessageDeflate: false,
    handleProtocols: (offered) => offered.has('mqtt') ? 'mqtt' : offered.has('mqttv3.1') ? 'mqttv3.1' : false
  })
  return (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      const stream = createWebSocketStream(ws)
      // ws reports protocol violations (e.g. an oversized frame) as stream errors; the guard closes.
      stream.on('error', () => ws.terminate())
      handle(stream, transport, request)
    })
  }
}
