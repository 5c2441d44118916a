/**
 * The chat widget's bundle (`npm run build:widget` → `dist/widget/`), for any site to load:
 *
 * - `GET /widget.js` — the launcher, the one script of the snippet. Revalidated on every load
 *   (`no-cache`), so a new release reaches every site at once.
 * - `GET /widget/<file>` — the chunks it imports (hashed names: cached for a year) and source maps.
 *
 * The chunks are ES modules imported from the site's page, a cross-origin load: they go out with
 * `Access-Control-Allow-Origin: *` (public code, no credentials) and a cross-origin resource
 * policy, whatever CORS_ORIGINS says for the API.
 */
import { resolve } from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { distDir, sendBundleFile } from '../static-files.js'

const HASHED = /-[A-Z0-9]{8}\.js(\.map)?$/

export function widgetRoutes (app: FastifyInstance, dir = distDir('widget')): void {
  const root = resolve(dir)
  const serve = async (reply: FastifyReply, file: string): Promise<FastifyReply> => await sendBundleFile(reply, root, file, {
    'access-control-allow-origin': '*',
    'cross-origin-resource-policy': 'cross-origin',
    'cache-control': HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache'
  }, file === 'widget.js' ? 'The widget is not built: run `npm run build:widget`.' : undefined)

  app.get('/widget.js', async (_request, reply) => await serve(reply, 'widget.js'))
  app.get('/widget/*', async (request, reply) => await serve(reply, (request.params as { '*'?: string })['*'] ?? ''))
}
