/**
 * Rate limits, each with a small setting so the test reaches it: password guessing (per uid with
 * an exponential lockout, per address), visitor creation (per address, per site), commands on an
 * outbox (token bucket: refused with an error event, nothing stored, the PUBACK sent and the
 * connection kept) and CONNECTs per address (CONNACK 3). Addresses behind a trusted proxy come
 * from X-Forwarded-For. Every refusal is counted. [IM-LIMIT-1]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Message } from '../../shared/protocol.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, defaultSiteKey, type Principal } from '../helpers/http.js'
import { createConversation, join } from '../helpers/im.js'
import { connackCode, sleep, waitFor } from '../helpers/mqtt.js'

async function refusals (broker: TestBroker, limit: string): Promise<number> {
  const metric = await broker.server.metrics.rateLimited.get()
  return metric.values.find((v) => v.labels.limit === limit)?.value ?? 0
}

async function login (broker: TestBroker, uid: string, password: string, forwardedFor?: string) {
  const res = await fetch(`${broker.httpUrl}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    body: JSON.stringify({ uid, password })
  })
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as { error?: { code: string } } }
}

describe('login attempts', () => {
  let broker: TestBroker
  before(async () => {
    broker = await startTestBroker({ LOGIN_MAX_FAILURES: 3, LOGIN_LOCKOUT_SECONDS: 1, LOGIN_ATTEMPTS_PER_IP_PER_MINUTE: 8, TRUST_PROXY: '127.0.0.1' })
    await createUser(broker.httpUrl, await adminToken(broker.httpUrl), 'alice')
  })
  after(async () => { await broker.stop() })

  it('locks a uid after repeated failures, doubles the lockout, checks no password meanwhile, and clears on success', async () => {
    const ip = '10.0.0.1'
    for (let i = 0; i < 3; i++) assert.equal((await login(broker, 'alice', 'wrong-guess', ip)).status, 401)
    const locked = await login(broker, 'alice', 'pw-alice-12345', `10.0.0.${2}`) // the right password, from elsewhere
    assert.equal(locked.status, 429)
    assert.equal(locked.body.error?.code, 'IM_ERR_RATE_LIMITED')
    assert.equal(locked.retryAfter, '1')
    await sleep(1100) // the lockout runs out
    assert.equal((await login(broker, 'alice', 'wrong-again', '10.0.0.3')).status, 401)
    const longer = await login(broker, 'alice', 'pw-alice-12345', '10.0.0.4')
    assert.equal(longer.status, 429)
    assert.equal(longer.retryAfter, '2', 'the next lockout is twice as long')
    await sleep(2100)
    assert.equal((await login(broker, 'alice', 'pw-alice-12345', '10.0.0.5')).status, 200)
    assert.equal((await login(broker, 'alice', 'wrong-once-more', '10.0.0.6')).status, 401, 'a success cleared the failures')
    assert.equal((await login(broker, 'alice', 'pw-alice-12345', '10.0.0.7')).status, 200)
    assert.ok(await refusals(broker, 'login-uid') >= 2)
  })

  it('limits attempts per address, whichever uids they name', async () => {
    const ip = '10.9.9.9'
    for (let i = 0; i < 8; i++) assert.equal((await login(broker, `user-${i}`, 'guess', ip)).status, 401)
    const refused = await login(broker, 'user-9', 'guess', ip)
    assert.equal(refused.status, 429)
    assert.ok(Number(refused.retryAfter) >= 1 && Number(refused.retryAfter) <= 60)
    assert.equal((await login(broker, 'user-9', 'guess', '10.9.9.10')).status, 401, 'another address is not affected')
    assert.ok(await refusals(broker, 'login-ip') >= 1)
  })
})

describe('visitor creation', () => {
  let broker: TestBroker
  let siteKey: string
  before(async () => {
    // fairness between networks off: one /24 may take the whole site budget (visitor-fair-share.test.ts tests the share)
    broker = await startTestBroker({ VISITORS_PER_IP_PER_MINUTE: 3, NEW_VISITORS_PER_SITE_PER_MINUTE: 4, NEW_VISITORS_SOURCE_SHARE_PERCENT: 100, TRUST_PROXY: '127.0.0.1' })
    siteKey = await defaultSiteKey(broker.httpUrl, await adminToken(broker.httpUrl))
  })
  after(async () => { await broker.stop() })

  const visitor = async (forwardedFor: string, token?: string) => await fetch(`${broker.httpUrl}/api/v1/visitors`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    body: JSON.stringify({ siteKey, ...(token ? { token } : {}) })
  })

  it('limits requests per address and new visitors per site; a returning visitor is not a new one', async () => {
    const first = await visitor('10.1.0.1')
    assert.equal(first.status, 200)
    const { token, uid } = await first.json() as { token: string, uid: string }
    assert.equal((await visitor('10.1.0.1')).status, 200)
    const renewed = await visitor('10.1.0.1', token)
    assert.equal(renewed.status, 200)
    assert.equal((await renewed.json() as { uid: string }).uid, uid)
    const overAddress = await visitor('10.1.0.1', token)
    assert.equal(overAddress.status, 429)
    assert.ok(Number(overAddress.headers.get('retry-after')) >= 1)

    // two new visitors so far; two more from other addresses, then the site is full for this minute
    assert.equal((await visitor('10.1.0.2')).status, 200)
    assert.equal((await visitor('10.1.0.3')).status, 200)
    const overSite = await visitor('10.1.0.4')
    assert.equal(overSite.status, 429)
    assert.equal((await overSite.json() as { error: { code: string } }).error.code, 'IM_ERR_RATE_LIMITED')
    assert.equal((await visitor('10.1.0.4', token)).status, 200, 'a returning visitor still gets in')
    assert.ok(await refusals(broker, 'visitor-ip') >= 1)
    assert.ok(await refusals(broker, 'visitor-site') >= 1)
  })
})

describe('commands and connections', () => {
  let broker: TestBroker
  let alice: Principal
  before(async () => {
    broker = await startTestBroker({ COMMANDS_PER_SECOND: 0.5, COMMAND_BURST: 3, CONNECTS_PER_IP_PER_MINUTE: 6, TRUST_PROXY: '127.0.0.1' })
    const admin = await adminToken(broker.httpUrl)
    alice = await createUser(broker.httpUrl, admin, 'alice')
    await createUser(broker.httpUrl, admin, 'bob')
  })
  after(async () => { await broker.stop() })

  it('refuses commands over the rate with an error event, stores none of them, acknowledges all and keeps the connection', async () => {
    const cid = await createConversation(broker.httpUrl, alice.token, 'direct', ['bob'])
    const a = await join(broker.mqttUrl, alice)
    try {
      for (let i = 1; i <= 6; i++) await a.command({ op: 'send', cmid: `burst-${i}`, cid, type: 'text', body: { text: `#${i}` } })
      const refused = await waitFor(() => {
        const errors = a.events.filter((e) => e.ev === 'error')
        return errors.length === 3 && errors
      }, 5000, 'three refusals')
      for (const e of refused) assert.equal(e.ev === 'error' && e.code, 'IM_ERR_RATE_LIMITED')
      assert.deepEqual(refused.map((e) => e.ev === 'error' ? e.cmid : ''), ['burst-4', 'burst-5', 'burst-6'])
      const history = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=0`, undefined, alice.token)
      assert.deepEqual(history.body.messages.map((m: Message) => m.cmid), ['burst-1', 'burst-2', 'burst-3'])
      assert.ok(a.client.connected)

      await sleep(2100) // one token comes back every two seconds
      await a.command({ op: 'send', cmid: 'later', cid, type: 'text', body: { text: 'again' } })
      await a.next('msg', (e) => e.msg.cmid === 'later')
      assert.equal(await refusals(broker, 'command'), 3)
    } finally { await a.close() }
  })

  it('answers CONNACK 3 to an address over its CONNECT rate; other addresses still connect', async () => {
    // the first test's connection counted one; five more from 127.0.0.1, then it is refused
    for (let i = 0; i < 5; i++) assert.equal(await connackCode(broker.mqttUrl, { username: 'alice', password: alice.token }), 0)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'alice', password: alice.token }), 3)
    const behindProxy = { username: 'alice', password: alice.token, wsOptions: { headers: { 'x-forwarded-for': '10.2.0.1' } } }
    assert.equal(await connackCode(broker.wsUrl, behindProxy), 0, 'a client behind the trusted proxy is counted by its own address')
    assert.equal(await refusals(broker, 'connect'), 1)
  })
})
