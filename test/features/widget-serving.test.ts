/**
 * The broker serves the widget bundle to any site: `/widget.js` revalidated on every load, the
 * hashed chunks cached for good, all with `Access-Control-Allow-Origin: *` (the chunks are ES
 * modules imported cross-origin); nothing outside the bundle folder, whatever the path says.
 *
 * What goes over the wire, for the widget and the console alike: the build's brotli or gzip file
 * as `Accept-Encoding` asks (the same bytes once decoded, `Vary: Accept-Encoding`, the right
 * `Content-Length`), the file as it is otherwise; a strong `ETag` and a bodiless `304` for
 * `If-None-Match`; never a `.br`/`.gz` file by its own name. Raw `node:http` requests: fetch()
 * would decode the body and pick its own `Accept-Encoding`.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import Fastify from 'fastify'
import { widgetRoutes } from '../../broker/http/routes/widget.js'
import { sendError, toImError } from '../../broker/http/errors.js'
import { createLogger } from '../../broker/ops/logger.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { ensureConsoleBuilt } from '../helpers/console.js'
import { ensureWidgetBuilt } from '../helpers/widget.js'

interface RawAnswer { status: number, headers: IncomingHttpHeaders, body: Buffer }

/** GET (or HEAD) `url` with exactly these headers; the body as it came over the wire. */
async function raw (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawAnswer> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** The body decoded as its `Content-Encoding` says. */
function decoded (answer: RawAnswer): Buffer {
  const encoding = answer.headers['content-encoding']
  if (encoding === 'br') return brotliDecompressSync(answer.body)
  if (encoding === 'gzip') return gunzipSync(answer.body)
  assert.equal(encoding, undefined, `unexpected Content-Encoding ${String(encoding)}`)
  return answer.body
}

const varyList = (answer: RawAnswer): string[] => String(answer.headers.vary ?? '').split(',').map((v) => v.trim().toLowerCase())

/** br, gzip and identity answers of `url`: the same bytes once decoded, each with its own strong ETag. */
async function assertEncodings (url: string): Promise<void> {
  const br = await raw(url, { 'accept-encoding': 'gzip, deflate, br' })
  const gzip = await raw(url, { 'accept-encoding': 'gzip' })
  const identity = await raw(url)
  assert.equal(br.headers['content-encoding'], 'br', url)
  assert.equal(gzip.headers['content-encoding'], 'gzip', url)
  assert.equal(identity.headers['content-encoding'], undefined, url)
  for (const answer of [br, gzip, identity]) {
    assert.equal(answer.status, 200, url)
    assert.equal(Number(answer.headers['content-length']), answer.body.length, `${url}: Content-Length is what was sent`)
    assert.ok(varyList(answer).includes('accept-encoding'), `${url}: Vary names Accept-Encoding (${String(answer.headers.vary)})`)
    assert.match(String(answer.headers.etag), /^"[A-Za-z0-9_-]{20,}"$/, `${url}: a strong ETag`)
  }
  assert.deepEqual(decoded(br), identity.body, `${url}: brotli decodes to the file`)
  assert.deepEqual(decoded(gzip), identity.body, `${url}: gzip decodes to the file`)
  assert.ok(br.body.length < gzip.body.length && gzip.body.length < identity.body.length, `${url}: brotli < gzip < raw`)
  assert.equal(new Set([br.headers.etag, gzip.headers.etag, identity.headers.etag]).size, 3, `${url}: one ETag per encoding`)
}

/** `url` revalidated: its ETag back in If-None-Match gives a bodiless 304 with the same validators and caching. */
async function assertRevalidates (url: string, cacheControl: string): Promise<void> {
  const first = await raw(url, { 'accept-encoding': 'br' })
  const etag = String(first.headers.etag)
  for (const inm of [etag, `W/${etag}`, `"something-else", ${etag}`, '*']) {
    const again = await raw(url, { 'accept-encoding': 'br', 'if-none-match': inm })
    assert.equal(again.status, 304, `${url} with If-None-Match: ${inm}`)
    assert.equal(again.body.length, 0)
    assert.equal(again.headers.etag, etag)
    assert.equal(again.headers['cache-control'], cacheControl)
    assert.ok(varyList(again).includes('accept-encoding'))
    assert.equal(again.headers['content-encoding'], undefined, 'a 304 has no body to encode')
  }
  const changed = await raw(url, { 'accept-encoding': 'br', 'if-none-match': '"an-older-release"' })
  assert.equal(changed.status, 200, 'another ETag: the whole file')
  assert.deepEqual(changed.body, first.body)
  const otherEncoding = await raw(url, { 'accept-encoding': 'gzip', 'if-none-match': etag })
  assert.equal(otherEncoding.status, 200, 'the brotli ETag does not validate the gzip answer')
  assert.equal(otherEncoding.headers['content-encoding'], 'gzip')
}

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

  it('sends brotli, gzip or the file as it is, as the request accepts — the same bytes once decoded', async () => {
    await assertEncodings(`${broker.httpUrl}/widget.js`)
    await assertEncodings(`${broker.httpUrl}/widget/${chunk}`)
  })

  it('follows Accept-Encoding\'s preferences and refusals', async () => {
    const url = `${broker.httpUrl}/widget.js`
    const cases: Array<[string | undefined, string | undefined]> = [
      [undefined, undefined],
      ['identity', undefined],
      ['deflate', undefined],
      ['br;q=0, gzip;q=0', undefined],
      ['*;q=0', undefined],
      ['br', 'br'],
      ['BR', 'br'],
      ['gzip', 'gzip'],
      ['x-gzip', 'gzip'],
      ['br;q=0, gzip', 'gzip'],
      ['gzip;q=1, br;q=0.5', 'gzip'],
      ['gzip, br', 'br'],
      ['*', 'br'],
      ['gzip;q=0, *;q=0.1', 'br']
    ]
    for (const [accept, expected] of cases) {
      const answer = await raw(url, accept === undefined ? {} : { 'accept-encoding': accept })
      assert.equal(answer.headers['content-encoding'], expected, `Accept-Encoding: ${String(accept)}`)
    }
  })

  it('keeps the Vary of CORS and adds Accept-Encoding', async () => {
    const answer = await raw(`${broker.httpUrl}/widget.js`, { origin: 'https://shop.example', 'accept-encoding': 'br' })
    assert.deepEqual(varyList(answer), ['origin', 'accept-encoding'])
  })

  it('answers HEAD with the headers of the GET and no body', async () => {
    const get = await raw(`${broker.httpUrl}/widget.js`, { 'accept-encoding': 'br' })
    const head = await raw(`${broker.httpUrl}/widget.js`, { 'accept-encoding': 'br' }, 'HEAD')
    assert.equal(head.status, 200)
    assert.equal(head.body.length, 0)
    assert.equal(head.headers['content-length'], get.headers['content-length'])
    assert.equal(head.headers.etag, get.headers.etag)
    assert.equal(head.headers['content-encoding'], 'br')
  })

  it('revalidates widget.js with a strong ETag: 304 and no body when nothing changed', async () => {
    await assertRevalidates(`${broker.httpUrl}/widget.js`, 'no-cache')
    await assertRevalidates(`${broker.httpUrl}/widget/${chunk}`, 'public, max-age=31536000, immutable')
  })

  it('never serves a precompressed file by its own name', async () => {
    for (const path of [`/widget/${chunk}.br`, `/widget/${chunk}.gz`, `/widget/${chunk}.BR`, '/widget/widget.js.br', '/widget/widget.js.gz']) {
      const res = await raw(`${broker.httpUrl}${path}`, { 'accept-encoding': 'br, gzip' })
      assert.equal(res.status, 404, path)
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

describe('serving the console bundle', () => {
  let broker: TestBroker
  let index: string
  let script: string
  let style: string

  before(async () => {
    await ensureConsoleBuilt()
    broker = await startTestBroker()
    index = (await raw(`${broker.httpUrl}/console`)).body.toString('utf8')
    script = /src="\/console\/(console-[A-Z0-9]{8}\.js)"/.exec(index)?.[1] ?? ''
    style = /href="\/console\/(console-[A-Z0-9]{8}\.css)"/.exec(index)?.[1] ?? ''
    assert.ok(script && style, `index.html names the hashed script and style sheet:\n${index}`)
  })
  after(async () => { await broker?.stop() })

  it('names content-hashed files in index.html, revalidated on every load, and caches those files for good', async () => {
    for (const path of ['/console', '/console/', '/console/index.html']) {
      assert.equal((await raw(`${broker.httpUrl}${path}`)).headers['cache-control'], 'no-cache', path)
    }
    for (const file of [script, style, `${script}.map`]) {
      const res = await raw(`${broker.httpUrl}/console/${file}`)
      assert.equal(res.status, 200, file)
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', file)
    }
    assert.equal((await raw(`${broker.httpUrl}/console/console.js`)).status, 404, 'no unhashed script left')
  })

  it('sends brotli, gzip or the file as it is, as the request accepts — the same bytes once decoded', async () => {
    await assertEncodings(`${broker.httpUrl}/console`)
    await assertEncodings(`${broker.httpUrl}/console/${script}`)
    await assertEncodings(`${broker.httpUrl}/console/${style}`)
  })

  it('revalidates the page with a strong ETag: 304 and no body when nothing changed', async () => {
    await assertRevalidates(`${broker.httpUrl}/console`, 'no-cache')
    await assertRevalidates(`${broker.httpUrl}/console/${script}`, 'public, max-age=31536000, immutable')
  })

  it('keeps its Content-Security-Policy on every answer, the 304 too', async () => {
    const first = await raw(`${broker.httpUrl}/console`, { 'accept-encoding': 'br' })
    const again = await raw(`${broker.httpUrl}/console`, { 'accept-encoding': 'br', 'if-none-match': String(first.headers.etag) })
    assert.equal(again.status, 304)
    for (const answer of [first, again]) assert.match(String(answer.headers['content-security-policy']), /script-src 'self'/)
  })

  it('never serves a precompressed file by its own name', async () => {
    for (const path of ['/console/index.html.br', '/console/index.html.gz', `/console/${script}.br`, `/console/${script}.gz`]) {
      assert.equal((await raw(`${broker.httpUrl}${path}`, { 'accept-encoding': 'br, gzip' })).status, 404, path)
    }
  })
})
