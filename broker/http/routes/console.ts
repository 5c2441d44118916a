/**
 * The agent console at `/console`: the bundle `npm run build:console` writes to `dist/console/`
 * (index.html, `console-<hash>.js` and its chunks, `console-<hash>.css`, source maps), served as
 * static files.
 *
 * - `GET /console` (and `/console/`, `/console/index.html`): revalidated on every load
 *   (`no-cache` and an `ETag`, so a reload pays a `304`); it names the hashed files of the build.
 * - `GET /console/<name>-<HASH>.js|.css` (and their maps): cached for a year, immutable.
 * - Brotli or gzip as the browser accepts, precompressed by the build; only files inside the
 *   bundle folder are served (see ../static-files.ts).
 * - Every answer carries a strict Content-Security-Policy: scripts and styles from this origin
 *   only, no inline script, connections to this origin and its WebSocket. Message text is
 *   rendered as text by the console; the policy is the second wall if that ever failed.
 */
import { resolve } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
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

/** The build's content-hashed names (esbuild's `[hash]`, and the style sheet's): never change, cached for good. */
const HASHED = /-[A-Z0-9]{8}\.(js|css)(\.map)?$/

export function consoleRoutes (app: FastifyInstance, dir = defaultConsoleDir()): void {
  const root = resolve(dir)

  const headers = {
    'content-security-policy': CONSOLE_CSP,
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY'
  }
  const serve = async (request: FastifyRequest, reply: FastifyReply, requested: string): Promise<FastifyReply> => {
    const index = requested === '' || requested === 'index.html'
    return await sendBundleFile(request, reply, root, requested === '' ? 'index.html' : requested,
      { ...headers, 'cache-control': HASHED.test(requested) ? 'public, max-age=31536000, immutable' : 'no-cache' },
      index ? 'The console is not built: run `npm run build:console`.' : undefined)
  }

  app.get('/console', async (request, reply) => await serve(request, reply, ''))
  app.get('/console/*', async (request, reply) => await serve(request, reply, (request.params as { '*'?: string })['*'] ?? ''))
}
