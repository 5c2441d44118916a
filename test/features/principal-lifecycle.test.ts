/**
 * Principals lose access for real: a disabled or deleted principal, or one whose tokens were
 * revoked, is refused on HTTP and MQTT alike, and its live MQTT connections are closed. The role
 * a request acts with is the stored one. A rotated site secret stops the old identity tokens.
 * [IM-AUTH-6]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SignJWT, decodeJwt } from 'jose'
import { JWT_SECRET, startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, defaultSiteKey } from '../helpers/http.js'
import { closedByBroker, connackCode, connectClient } from '../helpers/mqtt.js'

describe('disabling, deleting and revoking principals', () => {
  let broker: TestBroker
  let admin: string
  before(async () => {
    broker = await startTestBroker()
    admin = await adminToken(broker.httpUrl)
  })
  after(async () => { await broker.stop() })

  const get = async (path: string, token: string) => await api(broker.httpUrl, 'GET', path, undefined, token)
  const adminPost = async (path: string) => await api(broker.httpUrl, 'POST', `/api/v1/admin${path}`, {}, admin)

  it('closes a deleted principal\'s connection and refuses its token on HTTP and MQTT', async () => {
    const dora = await createUser(broker.httpUrl, admin, 'dora')
    const bob = await createUser(broker.httpUrl, admin, 'bob-d')
    const conv = await api(broker.httpUrl, 'POST', '/api/v1/conversations', { kind: 'direct', members: ['bob-d'] }, dora.token)
    assert.equal((await get('/api/v1/conversations', dora.token)).status, 200)
    const live = await connectClient(broker.mqttUrl, { username: 'dora', password: dora.token, clientId: 'dora-1' })

    const deleted = await api(broker.httpUrl, 'DELETE', '/api/v1/admin/principals/dora', undefined, admin)
    assert.equal(deleted.status, 200)
    assert.deepEqual(deleted.body, { deleted: 'dora' })
    await closedByBroker(live)
    for (const path of ['/api/v1/conversations', `/api/v1/conversations/${conv.body.cid}/messages`, '/api/v1/me']) {
      const res = await get(path, dora.token)
      assert.equal(res.status, 401, path)
      assert.equal(res.body.error.code, 'IM_ERR_UNAUTHENTICATED')
    }
    assert.equal(await connackCode(broker.mqttUrl, { username: 'dora', password: dora.token }), 5)
    assert.equal((await api(broker.httpUrl, 'GET', '/api/v1/admin/principals/dora', undefined, admin)).status, 404)
    // the other member keeps the conversation and its history
    assert.equal((await get(`/api/v1/conversations/${conv.body.cid}/messages`, bob.token)).status, 200)
  })

  it('disables and enables a principal: login, token and MQTT refused meanwhile, the connection closed', async () => {
    const erin = await createUser(broker.httpUrl, admin, 'erin')
    const live = await connectClient(broker.mqttUrl, { username: 'erin', password: erin.token, clientId: 'erin-1' })
    const disabled = await adminPost('/principals/erin/disable')
    assert.equal(disabled.status, 200)
    assert.equal(disabled.body.disabled, true)
    await closedByBroker(live)

    const login = await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'erin', password: 'pw-erin-12345' })
    assert.equal(login.status, 403)
    assert.equal(login.body.error.code, 'IM_ERR_PRINCIPAL_DISABLED')
    const wrongPassword = await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'erin', password: 'wrong-password' })
    assert.equal(wrongPassword.body.error.code, 'IM_ERR_BAD_CREDENTIALS', 'the disabled state is told only to who knows the password')
    const me = await get('/api/v1/me', erin.token)
    assert.equal(me.status, 403)
    assert.equal(me.body.error.code, 'IM_ERR_PRINCIPAL_DISABLED')
    assert.equal(await connackCode(broker.mqttUrl, { username: 'erin', password: erin.token }), 5)

    const enabled = await adminPost('/principals/erin/enable')
    assert.equal(enabled.body.disabled, false)
    assert.equal((await get('/api/v1/me', erin.token)).status, 200)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'erin', password: erin.token }), 0)
  })

  it('revokes every token of a principal; a new login works', async () => {
    const finn = await createUser(broker.httpUrl, admin, 'finn')
    const second = (await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'finn', password: 'pw-finn-12345' })).body.token as string
    const live = await connectClient(broker.mqttUrl, { username: 'finn', password: finn.token, clientId: 'finn-1' })
    assert.equal((await adminPost('/principals/finn/revoke-tokens')).status, 200)
    await closedByBroker(live)
    for (const token of [finn.token, second]) {
      assert.equal((await get('/api/v1/conversations', token)).status, 401)
      assert.equal(await connackCode(broker.mqttUrl, { username: 'finn', password: token }), 5)
    }
    const fresh = (await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'finn', password: 'pw-finn-12345' })).body.token as string
    assert.equal((await get('/api/v1/conversations', fresh)).status, 200)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'finn', password: fresh }), 0)
  })

  it('gives a visitor whose tokens were revoked a new identity instead of the old one', async () => {
    const siteKey = await defaultSiteKey(broker.httpUrl, admin)
    const first = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey })
    assert.equal((await adminPost(`/principals/${first.body.uid}/revoke-tokens`)).status, 200)
    const again = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey, token: first.body.token })
    assert.equal(again.status, 200)
    assert.notEqual(again.body.uid, first.body.uid)
  })

  it('refuses a disabled device\'s secret', async () => {
    await api(broker.httpUrl, 'POST', '/api/v1/admin/principals', { uid: 'meter-1', role: 'device', secret: 'meter-secret-0123456789' }, admin)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'meter-1', password: 'meter-secret-0123456789' }), 0)
    await adminPost('/principals/meter-1/disable')
    assert.equal(await connackCode(broker.mqttUrl, { username: 'meter-1', password: 'meter-secret-0123456789' }), 5)
  })

  it('acts with the stored role: a user token that claims agent is refused staff routes', async () => {
    const gus = await createUser(broker.httpUrl, admin, 'gus')
    const claimsAgent = await new SignJWT({ role: 'agent', inc: decodeJwt(gus.token).inc }).setProtectedHeader({ alg: 'HS256' }).setIssuer('mqtt-im')
      .setSubject('gus').setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET))
    const queue = await get('/api/v1/support/queue', claimsAgent)
    assert.equal(queue.status, 403)
    assert.equal(queue.body.error.code, 'IM_ERR_FORBIDDEN')
  })

  it('rotates a site secret: identity tokens signed with the old one are refused', async () => {
    const site = (await api(broker.httpUrl, 'GET', '/api/v1/admin/sites', undefined, admin)).body.sites[0] as { siteKey: string, secret: string }
    const sign = async (secret: string) => await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(site.siteKey)
      .setSubject('host-user-7').setExpirationTime('5m').sign(new TextEncoder().encode(secret))
    assert.equal((await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: site.siteKey, identityToken: await sign(site.secret) })).status, 200)
    const rotated = await adminPost(`/sites/${site.siteKey}/rotate-secret`)
    assert.equal(rotated.status, 200)
    assert.notEqual(rotated.body.secret, site.secret)
    assert.equal((await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: site.siteKey, identityToken: await sign(site.secret) })).status, 401)
    assert.equal((await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: site.siteKey, identityToken: await sign(rotated.body.secret) })).status, 200)
  })

  it('does not let an admin lock itself out, and says so for unknown principals', async () => {
    assert.equal((await adminPost('/principals/admin/disable')).status, 400)
    assert.equal((await api(broker.httpUrl, 'DELETE', '/api/v1/admin/principals/admin', undefined, admin)).status, 400)
    assert.equal((await adminPost('/principals/nobody-here/revoke-tokens')).status, 404)
  })
})
