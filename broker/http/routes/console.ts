/**
 * The agent console at `/console`: the bundle `npm run build:console` writes to `dist/console/`
 * (index.html, console.js, console.css, source maps), served as static files.
 *
 * - Only files inside the bundle folder are served (see ../static-files.ts).
 * - Every answer carries a strict Content-Security-Policy: scripts and styles from this origin
 *   only, no inline script, connections to this origin and its WebSocket. Message text is
 *   rendered as text by the console; the policy is the second wall if that ever failed.
 */
import { resolve } from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { distDir, sendBundleFile } from '../static-files.js'

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  // MQTT.js runs its keepalive timers in a blob: worker, so a hidden tab's throttled timers
  // do not let the broker drop the agent (workers are made by our own script only).
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

/** `dist/console` of the project (see `distDir`). */
export function defaultConsoleDir (): string {
  return distDir('console')
}

export function consoleRoutes (app: FastifyInstance, dir = defaultConsoleDir()): void {
  const root = resolve(dir)

  const headers = {
    'content-security-policy': CONSOLE_CSP,
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': 'no-cache'
  }
  const serve = async (reply: FastifyReply, requested: string): Promise<FastifyReply> => {
    const index = requested === '' || requested === 'index.html'
    return await sendBundleFile(reply, root, requested === '' ? 'index.html' : requested, headers,
      index ? 'The console is not built: run `npm run build:console`.' : undefined)
  }

  app.get('/console', async (_request, reply) => await serve(reply, ''))
  app.get('/console/*', async (request, reply) => await serve(reply, (request.params as { '*'?: string })['*'] ?? ''))
}
