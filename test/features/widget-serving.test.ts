/**
 * The broker serves the widget bundle to any site: `/widget.js` revalidated on every load, the
 * hashed chunks cached for good, all with `Access-Control-Allow-Origin: *` (the chunks are ES
 * modules imported cross-origin); nothing outside the bundle folder, whatever the path says.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Fastify from 'fastify'
import { widgetRoutes } from '../../broker/http/routes/widget.js'
import { sendError, toImError } from '../../broker/http/errors.js'
import { createLogger } from '../../broker/ops/logger.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { ensureWidgetBuilt } from '../helpers/widget.js'

describe('serving the widget bundle', () => {
  let broker: TestBroker
  let chunk: string

  before(async () => {
    await ensureWidgetBuilt()
    broker = await startTestBroker()
    const launcher = await (await fetch(`${broker.httpUrl}/widget.js`)).text()
    chunk = /panel-[A-Z0-9]{8}\.js/.exec(launcher)?.[0] ?? ''
    assert.ok(chunk, 'the launcher names its hashed panel chunk')
  })
  after(async () => { await broker?.stop() })

  it('serves widget.js as JavaScript any origin may load, revalidated on every page load', async () => {
    const res = await fetch(`${broker.httpUrl}/widget.js`, { headers: { origin: 'https://shop.example' } })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/)
    assert.equal(res.headers.get('access-control-allow-origin'), '*')
    assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin')
    assert.equal(res.headers.get('cache-control'), 'no-cache')
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
  })

  it('serves the hashed chunks for a year, immutable', async () => {
    const res = await fetch(`${broker.httpUrl}/widget/${chunk}`, { headers: { origin: 'https://shop.example' } })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('access-control-allow-origin'), '*')
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable')
  })

  it('answers 404 with an error body for paths outside the bundle or unknown files', async () => {
    for (const path of ['/widget/../package.json', '/widget/%2e%2e/package.json', '/widget/..%2fpackage.json', '/widget/.hidden', '/widget/nope.js', '/widget/']) {
      const res = await fetch(`${broker.httpUrl}${path}`)
      assert.equal(res.status, 404, path)
      assert.equal((await res.json() as { error: { code: string } }).error.code, 'IM_ERR_NOT_FOUND', path)
    }
  })

  it('says how to build the widget when the bundle is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'mqtt-im-nowidget-'))
    const app = Fastify()
    const log = createLogger('silent')
    app.setErrorHandler((err, _request, reply) => sendError(reply, toImError(err, log)))
    widgetRoutes(app, empty)
    try {
      const res = await app.inject({ method: 'GET', url: '/widget.js' })
      assert.equal(res.statusCode, 404)
      assert.match(res.body, /npm run build:widget/)
    } finally {
      await app.close()
      rmSync(empty, { recursive: true, force: true })
    }
  })
})
