/**
 * The admin API is decided on the route fastify matched, never on the raw URL: every admin route,
 * under every spelling of its path an attacker might try (percent-encoded, double-encoded,
 * double slashes, mixed case, trailing slash, dot segments, `;` parameters, backslashes), is
 * refused without a token (401), with a user, agent or visitor token (403), and with a token whose
 * `role` claim says admin for a principal that is not one (403). Requests go out over raw HTTP so
 * that nothing normalizes the path on the way. Nothing is changed by any of them, and no site
 * secret leaks.
 */
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { SignJWT, decodeJwt } from 'jose'
import { ADMIN_PREFIX, ADMIN_ROUTES, looksLikeAdminPath } from '../../broker/http/routes/admin.js'
import { JWT_SECRET, startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, defaultSiteKey } from '../helpers/http.js'

interface RawResponse { status: number, body: string }

/** One HTTP request with the path exactly as given (fetch would normalize it). */
async function rawRequest (port: number, method: string, path: string, token?: string, body?: unknown): Promise<RawResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1', port, method, path,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {})
      }
    }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** The same admin path, spelled every way that might slip past a check on the raw URL. */
export function spellings (path: string): string[] {
  const rest = path.slice(ADMIN_PREFIX.length)
  return [
    path,
    `/api/v1/%61dmin${rest}`,
    `/%61pi/v1/admin${rest}`,
    `/api/v1/%61%64%6D%69%6E${rest}`,
    `/api/v1/%2561dmin${rest}`,
    `/api%2Fv1%2Fadmin${rest}`,
    `/${path}`,
    `/api/v1//admin${rest}`,
    `/api//v1/admin/${rest}`,
    `/api/v1/ADMIN${rest}`,
    `/Api/V1/Admin${rest}`,
    `${path}/`,
    `/api/v1/x/../admin${rest}`,
    `/api/v1/./admin${rest}`,
    `/api/v1/x/%2e%2e/admin${rest}`,
    `/api/v1/admin;x=1${rest}`,
    `/api/v1\\admin${rest}`,
    `${path}?role=admin`
  ]
}

describe('admin API guard', () => {
  let broker: TestBroker
  let port: number
  let admin: string
  const callers: Array<{ who: string, token?: string, status: number }> = []

  before(async () => {
    broker = await startTestBroker()
    port = broker.server.ports.http
    admin = await adminToken(broker.httpUrl)
    const user = await createUser(broker.httpUrl, admin, 'alice')
    const agent = await createUser(broker.httpUrl, admin, 'agent-1', 'agent')
    const visitor = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: await defaultSiteKey(broker.httpUrl, admin) })
    const key = new TextEncoder().encode(JWT_SECRET)
    // with alice's incarnation, as the broker issues it: only the role claim is forged [IM-AUTH-8]
    const claimAdmin = async (sub: string, secret = key): Promise<string> => await new SignJWT({ role: 'admin', inc: decodeJwt(user.token).inc })
      .setProtectedHeader({ alg: 'HS256' }).setIssuer('mqtt-im').setSubject(sub).setIssuedAt().setExpirationTime('1h').sign(secret)
    callers.push(
      { who: 'no token', status: 401 },
      { who: 'a garbage token', token: 'not-a-token', status: 401 },
      { who: 'a user', token: user.token, status: 403 },
      { who: 'an agent', token: agent.token, status: 403 },
      { who: 'a visitor', token: visitor.body.token as string, status: 403 },
      { who: 'a user whose token claims role admin', token: await claimAdmin('alice'), status: 403 },
      { who: 'an unknown uid claiming admin', token: await claimAdmin('ghost'), status: 401 },
      { who: 'a token signed with another key', token: await claimAdmin('admin', new TextEncoder().encode('x'.repeat(40))), status: 401 }
    )
  })
  after(async () => { await broker.stop() })

  it('answers every admin route for an admin under its canonical path (the routes exist)', async () => {
    await createUser(broker.httpUrl, admin, 'bob')
    const site = (await api(broker.httpUrl, 'GET', '/api/v1/admin/sites', undefined, admin)).body.sites[0].siteKey as string
    for (const route of ADMIN_ROUTES.filter((r) => r.method === 'GET')) {
      const path = ADMIN_PREFIX + route.url.replace(':uid', 'bob').replace(':siteKey', site)
      const res = await rawRequest(port, route.method, path, admin)
      assert.equal(res.status, 200, `${route.method} ${path} as admin: ${res.body}`)
    }
  })

  it('refuses every admin route under every spelling to anyone but an admin, and changes nothing', async () => {
    const siteKey = await defaultSiteKey(broker.httpUrl, admin)
    const principalsBefore = (await api(broker.httpUrl, 'GET', '/api/v1/admin/principals', undefined, admin)).body
    const sitesBefore = (await api(broker.httpUrl, 'GET', '/api/v1/admin/sites', undefined, admin)).body
    const secret = sitesBefore.sites[0].secret as string
    const bodies: Record<string, unknown> = {
      '/principals': { uid: 'intruder', role: 'admin', password: 'intruder-pass-1' },
      '/sites': { name: 'intruder' }
    }
    let tried = 0
    for (const route of ADMIN_ROUTES) {
      const path = ADMIN_PREFIX + route.url.replace(':uid', 'alice').replace(':siteKey', siteKey)
      for (const spelling of spellings(path)) {
        for (const caller of callers) {
          const res = await rawRequest(port, route.method, spelling, caller.token, route.method === 'POST' ? bodies[route.url] ?? {} : undefined)
          tried++
          assert.equal(res.status, caller.status, `${route.method} ${spelling} with ${caller.who}: ${res.status} ${res.body}`)
          assert.ok(!res.body.includes(secret), `${route.method} ${spelling} with ${caller.who} leaked the site secret`)
        }
      }
    }
    assert.ok(tried >= ADMIN_ROUTES.length * 18 * callers.length)
    assert.deepEqual((await api(broker.httpUrl, 'GET', '/api/v1/admin/principals', undefined, admin)).body, principalsBefore)
    assert.deepEqual((await api(broker.httpUrl, 'GET', '/api/v1/admin/sites', undefined, admin)).body, sitesBefore)
    assert.equal((await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'alice', password: 'pw-alice-12345' })).status, 200, 'alice was not disabled or deleted')
  })

  it('recognizes admin paths however they are spelled, and nothing else', () => {
    for (const spelling of spellings('/api/v1/admin/principals')) assert.ok(looksLikeAdminPath(spelling), spelling)
    for (const other of ['/api/v1/administrator', '/api/v1/conversations', '/api/v1/admin-x/principals', '/console/admin', '/api/v2/admin']) {
      assert.ok(!looksLikeAdminPath(other), other)
    }
  })
})
