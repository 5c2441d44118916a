/**
 * The agent console at `/console`: the bundle `npm run build:console` writes to `dist/console/`
 * (index.html, console.js, console.css, source maps), served as static files.
 *
 * - Only files inside the bundle folder are served: the path is resolved and must stay inside it
 *   (no `..`, no absolute paths, no symlinks out), and only known file types go out.
 * - Every answer carries a strict Content-Security-Policy: scripts and styles from this origin
 *   only, no inline script, connections to this origin and its WebSocket. Message text is
 *   rendered as text by the console; the policy is the second wall if that ever failed.
 */
import { readFile, realpath, stat } from 'node:fs/promises'
import { basename, dirname, extname, isAbsolute, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { ImError } from '../../../shared/errors.js'

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

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8'
}

/**
 * `dist/console` of the project, whether the broker runs from source (`broker/http/routes`, via
 * tsx) or compiled (`dist/broker/http/routes`).
 */
export function defaultConsoleDir (): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const up3 = resolve(here, '..', '..', '..')
  const root = basename(up3) === 'dist' ? dirname(up3) : up3
  return resolve(root, 'dist', 'console')
}

export function consoleRoutes (app: FastifyInstance, dir = defaultConsoleDir()): void {
  const root = resolve(dir)

  const serve = async (reply: FastifyReply, requested: string): Promise<FastifyReply> => {
    const file = await insideBundle(root, requested === '' ? 'index.html' : requested)
    const type = file ? TYPES[extname(file).toLowerCase()] : undefined
    if (!file || !type) {
      if (requested === '' || requested === 'index.html') throw new ImError('IM_ERR_NOT_FOUND', 'The console is not built: run `npm run build:console`.')
      throw new ImError('IM_ERR_NOT_FOUND')
    }
    return await reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .header('cache-control', 'no-cache')
      .type(type)
      .send(await readFile(file))
  }

  app.get('/console', async (_request, reply) => await serve(reply, ''))
  app.get('/console/*', async (request, reply) => await serve(reply, (request.params as { '*'?: string })['*'] ?? ''))
}

/** The real path of `requested` when it is a regular file inside `root`; undefined otherwise. */
async function insideBundle (root: string, requested: string): Promise<string | undefined> {
  if (requested.includes('\0') || requested.includes('\\') || isAbsolute(requested)) return undefined
  if (requested.split('/').some((part) => part === '..' || part.startsWith('.'))) return undefined
  try {
    const realRoot = await realpath(root)
    const real = await realpath(resolve(realRoot, requested))
    const rel = relative(realRoot, real)
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) return undefined
    return (await stat(real)).isFile() ? real : undefined
  } catch {
    return undefined
  }
}
