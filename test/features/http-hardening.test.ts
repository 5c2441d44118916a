/**
 * HTTP answers carry nosniff and a deny-everything CSP; CORS stays open for the widget's API but
 * not for the admin API; `/metrics` is served on its own listener bound to this machine, and on
 * the public port only to whoever holds METRICS_TOKEN. [IM-HTTP-2] [IM-HTTP-3]
 */
import assert from 'node:assert/strict'
import { connect as netConnect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { CONSOLE_CSP } from '../../broker/http/routes/console.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'

const METRICS_TOKEN = 'metrics-token-0123456789'

async function rawHttp (port: number, request: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => socket.write(request))
    let text = ''
    socket.on('data', (chunk: Buffer) => { text += chunk.toString() })
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}

describe('HTTP headers and CORS', () => {
  let open: TestBroker
  let listed: TestBroker
  before(async () => {
    open = await startTestBroker()
    listed = await startTestBroker({ CORS_ORIGINS: 'https://ops.example' })
  })
  after(async () => { await Promise.all([open.stop(), listed.stop()]) })

  it('sends nosniff and a restrictive CSP with JSON answers, errors included', async () => {
    for (const path of ['/healthz', '/api/v1/me', '/no-such-route', '/api/v1/conversations/x/messages']) {
      const res = await fetch(open.httpUrl + path)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/, path)
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path)
      assert.equal(res.headers.get('strict-transport-security'), null, 'HSTS is left to the proxy')
    }
    const malformed = await rawHttp(open.server.ports.http, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')
    assert.match(malformed, /^HTTP\/1\.1 400/)
    assert.match(malformed, /X-Content-Type-Options: nosniff/i)
  })

  it('keeps the console\'s own CSP for the console page', async () => {
    const res = await fetch(`${open.httpUrl}/console`)
    if ((res.headers.get('content-type') ?? '').startsWith('text/html')) {
      assert.equal(res.headers.get('content-security-policy'), CONSOLE_CSP)
    } else {
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/, 'the console is not built: its error is JSON')
    }
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
  })

  const preflight = async (broker: TestBroker, path: string, origin: string) => await fetch(broker.httpUrl + path, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' }
  })

  it('opens the API to any origin under CORS_ORIGINS=*, but not the admin API', async () => {
    const visitors = await preflight(open, '/api/v1/visitors', 'https://shop.example')
    assert.equal(visitors.headers.get('access-control-allow-origin'), '*')
    assert.match(visitors.headers.get('access-control-allow-headers') ?? '', /authorization/i)
    for (const path of ['/api/v1/admin/principals', '/api/v1/%61dmin/sites']) {
      const admin = await preflight(open, path, 'https://shop.example')
      assert.equal(admin.headers.get('access-control-allow-origin'), null, path)
    }
    const get = await fetch(`${open.httpUrl}/api/v1/admin/sites`, { headers: { origin: 'https://shop.example' } })
    assert.equal(get.headers.get('access-control-allow-origin'), null)
  })

  it('opens the admin API to an origin listed explicitly, and only to it', async () => {
    assert.equal((await preflight(listed, '/api/v1/admin/principals', 'https://ops.example')).headers.get('access-control-allow-origin'), 'https://ops.example')
    assert.equal((await preflight(listed, '/api/v1/admin/principals', 'https://shop.example')).headers.get('access-control-allow-origin'), null)
    assert.equal((await preflight(listed, '/api/v1/visitors', 'https://shop.example')).headers.get('access-control-allow-origin'), null)
  })
})

describe('/metrics access', () => {
  let local: TestBroker
  let tokened: TestBroker
  before(async () => {
    local = await startTestBroker()
    tokened = await startTestBroker({ METRICS_TOKEN })
  })
  after(async () => { await Promise.all([local.stop(), tokened.stop()]) })

  it('serves the metrics on their own listener, bound to this machine', async () => {
    const url = new URL(local.metricsUrl)
    assert.equal(url.hostname, '127.0.0.1')
    assert.notEqual(Number(url.port), local.server.ports.http)
    assert.equal(local.server.urls.metrics, local.metricsUrl)
    const scraped = await fetch(local.metricsUrl)
    assert.equal(scraped.status, 200)
    assert.match(await scraped.text(), /mqtt_connections/)
    assert.equal((await fetch(new URL('/healthz', url))).status, 200)
    assert.equal((await fetch(new URL('/api/v1/me', url))).status, 404)
  })

  it('answers nothing about metrics on the public port without METRICS_TOKEN, not even to a local peer without proxy headers', async () => {
    // what a same-host reverse proxy that adds no forwarding header sends on behalf of anyone
    const plain = await fetch(`${local.httpUrl}/metrics`)
    assert.equal(plain.status, 404)
    assert.doesNotMatch(await plain.text(), /mqtt_connections/)
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      const proxied = await fetch(`${local.httpUrl}/metrics`, { headers: { [header]: header === 'forwarded' ? 'for=203.0.113.9' : '203.0.113.9' } })
      assert.equal(proxied.status, 404, header)
      assert.equal((await proxied.json() as { error: { code: string } }).error.code, 'IM_ERR_NOT_FOUND')
    }
    const raw = await rawHttp(local.server.ports.http, 'GET /metrics HTTP/1.0\r\n\r\n')
    assert.match(raw, /^HTTP\/1\.1 404/)
    assert.equal(((await fetch(`${local.httpUrl}/`)).headers.get('content-type') ?? '').startsWith('application/json'), true)
    assert.equal((await (await fetch(`${local.httpUrl}/`)).json() as Record<string, unknown>).metrics, undefined)
  })

  it('asks for METRICS_TOKEN when one is set, from anywhere, on both ports', async () => {
    assert.equal((await fetch(`${tokened.httpUrl}/metrics`)).status, 401)
    assert.equal((await fetch(`${tokened.httpUrl}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401)
    const ok = await fetch(`${tokened.httpUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}`, 'x-forwarded-for': '203.0.113.9' } })
    assert.equal(ok.status, 200)
    assert.match(await ok.text(), /http_requests_total/)
    const refused = await fetch(tokened.metricsUrl)
    assert.equal(refused.status, 401)
    assert.equal((await refused.json() as { error: { code: string } }).error.code, 'IM_ERR_UNAUTHENTICATED')
    assert.equal((await fetch(tokened.metricsUrl, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200)
  })
})
