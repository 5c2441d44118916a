/**
 * The chat widget's bundle (`npm run build:widget` → `dist/widget/`), for any site to load:
 *
 * - `GET /widget.js` — the launcher, the one script of the snippet. Revalidated on every load
 *   (`no-cache` and an `ETag`: a page view of a site pays a `304`), so a new release reaches
 *   every site at once.
 * - `GET /widget/<file>` — the chunks it imports (hashed names: cached for a year) and source maps.
 *
 * Brotli or gzip as the browser accepts, precompressed by the build (see ../static-files.ts).
 *
 * The chunks are ES modules imported from the site's page, a cross-origin load: they go out with
 * `Access-Control-Allow-Origin: *` (public code, no credentials) and a cross-origin resource
 * policy, whatever CORS_ORIGINS says for the API.
 */
import { resolve } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { distDir, sendBundleFile } from '../static-files.js'

const HASHED = /-[A-Z0-9]{8}\.js(\.map)?$/

export function widgetRoutes (app: FastifyInstance, dir = distDir('widget')): void {
  const root = resolve(dir)
  const serve = async (request: FastifyRequest, reply: FastifyReply, file: string): Promise<FastifyReply> => await sendBundleFile(request, reply, root, file, {
    'access-control-allow-origin': '*',
    'cross-origin-resource-policy': 'cross-origin',
    'cache-control': HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache'
  }, file === 'widget.js' ? 'The widget is not built: run `npm run build:widget`.' : undefined)

  app.get('/widget.js', async (request, reply) => await serve(request, reply, 'widget.js'))
  app.get('/widget/*', async (request, reply) => await serve(request, reply, (request.params as { '*'?: string })['*'] ?? ''))
}
