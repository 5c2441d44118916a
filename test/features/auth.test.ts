import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SignJWT, decodeJwt } from 'jose'
import { JWT_SECRET, startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, defaultSiteKey } from '../helpers/http.js'
import { connackCode, connectClient } from '../helpers/mqtt.js'

describe('authentication', () => {
  let broker: TestBroker
  let admin: string
  before(async () => {
    broker = await startTestBroker()
    admin = await adminToken(broker.httpUrl)
  })
  after(async () => { await broker.stop() })

  it('logs a user in and accepts the token on MQTT CONNECT', async () => {
    const alice = await createUser(broker.httpUrl, admin, 'alice')
    const login = await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'alice', password: 'pw-alice-12345' })
    assert.equal(login.status, 200)
    assert.equal(login.body.uid, 'alice')
    assert.equal(login.body.role, 'user')
    assert.ok(login.body.expiresAt > Date.now())
    const client = await connectClient(broker.mqttUrl, { username: 'alice', password: alice.token, clientId: 'alice-1' })
    assert.ok(client.connected)
    await client.endAsync()
  })

  it('refuses a wrong password with IM_ERR_BAD_CREDENTIALS, the same for an unknown uid', async () => {
    const wrong = await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'alice', password: 'nope-nope' })
    const unknown = await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'nobody', password: 'nope-nope' })
    assert.equal(wrong.status, 401)
    assert.equal(wrong.body.error.code, 'IM_ERR_BAD_CREDENTIALS')
    assert.deepEqual(unknown.body, wrong.body)
  })

  it('answers CONNACK 5 to a bad token, a token of another uid, an expired token and no credentials', async () => {
    const bob = await createUser(broker.httpUrl, admin, 'bob')
    const key = new TextEncoder().encode(JWT_SECRET)
    const expired = await new SignJWT({ role: 'user' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('mqtt-im')
      .setSubject('bob').setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(key)
    const forged = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('mqtt-im')
      .setSubject('bob').setExpirationTime('1h').sign(new TextEncoder().encode('another-secret-another-secret-123456'))
    assert.equal(await connackCode(broker.mqttUrl, { username: 'bob', password: 'garbage' }), 5)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'alice', password: bob.token }), 5)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'bob', password: expired }), 5)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'bob', password: forged }), 5)
    assert.equal(await connackCode(broker.mqttUrl, {}), 5)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'bob', password: bob.token }), 0)
  })

  it('creates a device that connects with its secret, and refuses a wrong secret', async () => {
    const created = await api(broker.httpUrl, 'POST', '/api/v1/admin/principals', { uid: 'lamp-1', role: 'device', secret: 'lamp-secret-0123456789', grants: { channels: ['support/queue'] } }, admin)
    assert.equal(created.status, 201)
    assert.deepEqual(created.body.grants, { presence: [], channels: ['support/queue'] })
    assert.equal(created.body.secretHash, undefined)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'lamp-1', password: 'lamp-secret-0123456789' }), 0)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'lamp-1', password: 'lamp-secret-wrong' }), 5)
    // a user's password is not an MQTT credential: only tokens and device secrets are
    assert.equal(await connackCode(broker.mqttUrl, { username: 'alice', password: 'pw-alice-12345' }), 5)
  })

  it('lets only admins use the admin API, and validates what they send', async () => {
    const alice = await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'alice', password: 'pw-alice-12345' })
    const asUser = await api(broker.httpUrl, 'POST', '/api/v1/admin/principals', { uid: 'x', role: 'user', password: 'password-1' }, alice.body.token)
    assert.equal(asUser.status, 403)
    assert.equal(asUser.body.error.code, 'IM_ERR_FORBIDDEN')
    const anonymous = await api(broker.httpUrl, 'POST', '/api/v1/admin/principals', { uid: 'x', role: 'user', password: 'password-1' })
    assert.equal(anonymous.status, 401)
    const badUid = await api(broker.httpUrl, 'POST', '/api/v1/admin/principals', { uid: 'bad/uid', role: 'user', password: 'password-1' }, admin)
    assert.equal(badUid.status, 400)
    assert.equal(badUid.body.error.code, 'IM_ERR_BAD_REQUEST')
    assert.match(badUid.body.error.message, /uid/)
    const duplicate = await api(broker.httpUrl, 'POST', '/api/v1/admin/principals', { uid: 'alice', role: 'user', password: 'password-1' }, admin)
    assert.equal(duplicate.status, 409)
    assert.equal(duplicate.body.error.code, 'IM_ERR_PRINCIPAL_EXISTS')
    const notJson = await api(broker.httpUrl, 'POST', '/api/v1/login', '{"uid":', undefined)
    assert.equal(notJson.status, 400)
    assert.equal(notJson.body.error.code, 'IM_ERR_INVALID_JSON')
  })

  it('gives a visitor an identity and the same uid again for its previous token', async () => {
    const siteKey = await defaultSiteKey(broker.httpUrl, admin)
    const first = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey })
    assert.equal(first.status, 200)
    assert.equal(first.body.role, 'visitor')
    assert.match(first.body.uid, /^v_[A-Za-z0-9_-]+$/)
    const again = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey, token: first.body.token })
    assert.equal(again.body.uid, first.body.uid)
    const stranger = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey })
    assert.notEqual(stranger.body.uid, first.body.uid)
    const unknownSite = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: 'site_nope' })
    assert.equal(unknownSite.status, 404)
    assert.equal(unknownSite.body.error.code, 'IM_ERR_UNKNOWN_SITE')
    const client = await connectClient(broker.mqttUrl, { username: first.body.uid, password: first.body.token })
    await client.endAsync()
  })

  it('keeps a returning visitor whose token expired within the renew window', async () => {
    const siteKey = await defaultSiteKey(broker.httpUrl, admin)
    const first = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey })
    const key = new TextEncoder().encode(JWT_SECRET)
    const now = Math.floor(Date.now() / 1000)
    // of the visitor's incarnation (its `inc` claim), as every token the broker issues [IM-AUTH-8]
    const stale = await new SignJWT({ role: 'visitor', site: siteKey, inc: decodeJwt(first.body.token).inc }).setProtectedHeader({ alg: 'HS256' }).setIssuer('mqtt-im')
      .setSubject(first.body.uid).setIssuedAt(now - 10 * 86400).setExpirationTime(now - 9 * 86400).sign(key)
    assert.equal(await connackCode(broker.mqttUrl, { username: first.body.uid, password: stale }), 5)
    const renewed = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey, token: stale })
    assert.equal(renewed.body.uid, first.body.uid)
    assert.ok(renewed.body.expiresAt > Date.now())
  })

  it('accepts a site-signed identity token and maps the same host user to the same uid', async () => {
    const sites = await api(broker.httpUrl, 'GET', '/api/v1/admin/sites', undefined, admin)
    const site = sites.body.sites[0] as { siteKey: string, secret: string }
    const sign = async (sub: string, secret = site.secret) => await new SignJWT({ name: 'Carol', email: 'carol@example.com' })
      .setProtectedHeader({ alg: 'HS256' }).setIssuer(site.siteKey).setSubject(sub).setExpirationTime('5m').sign(new TextEncoder().encode(secret))
    const one = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: site.siteKey, identityToken: await sign('user-42') })
    const two = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: site.siteKey, identityToken: await sign('user-42') })
    const other = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: site.siteKey, identityToken: await sign('user-43') })
    assert.equal(one.status, 200)
    assert.equal(one.body.uid, two.body.uid)
    assert.notEqual(one.body.uid, other.body.uid)
    const me = await api(broker.httpUrl, 'GET', '/api/v1/me', undefined, one.body.token)
    assert.equal(me.body.name, 'Carol')
    const forged = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: site.siteKey, identityToken: await sign('user-42', 'not-the-site-secret-0123456789abcdef') })
    assert.equal(forged.status, 401)
    assert.equal(forged.body.error.code, 'IM_ERR_UNAUTHENTICATED')
  })
})
