/**
 * A bare aedes 1.2 — the `--vs aedes` comparison, i.e. what this project's broker is built on,
 * without anything it adds: `Aedes.createBroker()` with its defaults (in-memory persistence and
 * mqemitter, no authentication, no ACL, no packet guard, no store), a `net` server for MQTT over
 * TCP (`setNoDelay(true)`, as the broker's) and a `ws` 8 server for MQTT over WebSocket through
 * `createWebSocketStream` (no per-message deflate, as the broker's; any path).
 *
 * Run as its own process, so that its CPU and memory are read from /proc like the others:
 * `node --import tsx bench/bare-aedes.ts`. Listens on 127.0.0.1, ports from BENCH_TCP_PORT and
 * BENCH_WS_PORT (0 or unset: chosen by the kernel); writes one line `{"ready":true,"tcp":…,"ws":…}`
 * to stdout once both listen. SIGTERM or SIGINT closes it.
 */
import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net'
import { Aedes } from 'aedes'
import { WebSocketServer, createWebSocketStream } from 'ws'

const HOST = '127.0.0.1'

const aedes = await Aedes.createBroker()

const tcp = createTcpServer((socket) => {
  socket.setNoDelay(true)
  aedes.handle(socket)
})

const http = createHttpServer()
const wss = new WebSocketServer({ server: http, perMessageDeflate: false })
wss.on('connection', (ws, request) => {
  const stream = createWebSocketStream(ws)
  stream.on('error', () => ws.terminate())
  aedes.handle(stream, request)
})

const [tcpPort, wsPort] = await Promise.all([listen(tcp, process.env.BENCH_TCP_PORT), listen(http, process.env.BENCH_WS_PORT)])
process.stdout.write(`${JSON.stringify({ ready: true, tcp: tcpPort, ws: wsPort })}\n`)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    for (const client of wss.clients) client.terminate()
    tcp.close()
    http.close()
    aedes.close(() => process.exit(0))
  })
}

function listen (server: Server, port: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(Number(port ?? 0), HOST, () => resolve((server.address() as AddressInfo).port))
  })
}
