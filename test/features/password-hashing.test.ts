/**
 * Password hashing cannot be turned against the broker: at most PASSWORD_HASH_CONCURRENCY argon2
 * computations run at once and PASSWORD_HASH_QUEUE wait; a flood of wrong logins or device
 * secrets past that is refused at once (HTTP 503 IM_ERR_BUSY with Retry-After, CONNACK 3) without
 * a hash. Device secrets over MQTT count against the per-address login limit, before any hash.
 * Counted by im_password_hashes_total, im_password_hashes_running_max and
 * im_password_hashes_refused_total — never by timing. [IM-LIMIT-HASH] [IM-LIMIT-1]
 */
import assert from 'node:assert/strict'
import { createConnection } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { MqttClient, type IClientOptions } from 'mqtt'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser } from '../helpers/http.js'
import { awayFromMinuteEnd } from '../helpers/minute.js'
import { NO_RECONNECT, connackCode } from '../helpers/mqtt.js'

async function metric (broker: TestBroker, name: 'passwordHashes' | 'passwordHashesRunningMax' | 'passwordHashesRefused', kind?: string): Promise<number> {
  const values = (await broker.server.metrics[name].get()).values
  return (kind === undefined ? values[0] : values.find((v) => v.labels.kind === kind))?.value ?? 0
}

/** The CONNACK return code for a CONNECT from `localAddress` (a 127.x.y.z address: another client address to the broker). */
async function connackFrom (broker: TestBroker, localAddress: string, options: IClientOptions): Promise<number> {
  const port = broker.server.ports.mqtt
  return await new Promise((resolve, reject) => {
    const client = new MqttClient(() => createConnection({ port, host: '127.0.0.1', localAddress }), { protocolVersion: 4, ...NO_RECONNECT, ...options })
    client.once('connect', () => { client.end(true); resolve(0) })
    client.once('error', (err: Error & { code?: number }) => {
      client.end(true)
      if (typeof err.code === 'number') resolve(err.code)
      else reject(err)
    })
  })
}

describe('password hashing under a flood', () => {
  let broker: TestBroker
  before(async () => {
    // one computation at a time, two waiting; address limits out of the way (they are tested below)
    broker = await startTestBroker({ PASSWORD_HASH_CONCURRENCY: 1, PASSWORD_HASH_QUEUE: 2, LOGIN_ATTEMPTS_PER_IP_PER_MINUTE: 10_000, TRUST_PROXY: '127.0.0.1' })
    const admin = await adminToken(broker.httpUrl)
    assert.equal((await api(broker.httpUrl, 'POST', '/api/v1/admin/principals', { uid: 'meter', role: 'device', secret: 'meter-secret-0123456789' }, admin)).status, 201)
  })
  after(async () => { await broker.stop() })

  it('refuses wrong logins past the hashing limit at once with 503 and Retry-After, and computes no more hashes at once than it allows', async () => {
    const checksBefore = await metric(broker, 'passwordHashes', 'verify')
    const refusedBefore = await metric(broker, 'passwordHashesRefused')
    const answers = await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      const res = await fetch(`${broker.httpUrl}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.0.${1 + (i % 20)}` },
        body: JSON.stringify({ uid: `ghost-${i}`, password: 'wrong-guess' })
      })
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as { error: { code: string } } }
    }))
    const busy = answers.filter((a) => a.status === 503)
    const checked = answers.filter((a) => a.status === 401)
    assert.equal(busy.length + checked.length, 60, `statuses: ${[...new Set(answers.map((a) => a.status))].join(', ')}`)
    assert.ok(busy.length > 0, 'some are refused')
    for (const a of busy) {
      assert.equal(a.body.error.code, 'IM_ERR_BUSY')
      assert.equal(a.retryAfter, '1')
    }
    assert.equal(await metric(broker, 'passwordHashes', 'verify') - checksBefore, checked.length, 'a hash for each answered login, none for a refused one')
    assert.equal(await metric(broker, 'passwordHashesRefused') - refusedBefore, busy.length)
    assert.equal(await metric(broker, 'passwordHashesRunningMax'), 1, 'never more than one hash at once')
    // the flood is over: a real user logs in
    await createUser(broker.httpUrl, await adminToken(broker.httpUrl), 'after-flood')
  })

  it('answers CONNACK 3 to device-secret CONNECTs past the hashing limit, and lets the device in after', async () => {
    const refusedBefore = await metric(broker, 'passwordHashesRefused')
    const codes = await Promise.all(Array.from({ length: 40 }, async (_, i) => await connackCode(broker.mqttUrl, { username: 'meter', password: `wrong-secret-${i}`, clientId: `flood-${i}` })))
    assert.ok(codes.every((c) => c === 3 || c === 5), `codes: ${[...new Set(codes)].join(', ')}`)
    assert.equal(await metric(broker, 'passwordHashesRefused') - refusedBefore, codes.filter((c) => c === 3).length)
    assert.ok(codes.includes(3), 'some are refused')
    assert.equal(await metric(broker, 'passwordHashesRunningMax'), 1)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'meter', password: 'meter-secret-0123456789', clientId: 'meter-1' }), 0)
  })
})

describe('device secrets and the per-address login limit', () => {
  let broker: TestBroker
  let token: string
  before(async () => {
    broker = await startTestBroker({ LOGIN_ATTEMPTS_PER_IP_PER_MINUTE: 5 })
    const admin = await adminToken(broker.httpUrl)
    await api(broker.httpUrl, 'POST', '/api/v1/admin/principals', { uid: 'lamp', role: 'device', secret: 'lamp-secret-0123456789' }, admin)
    token = (await createUser(broker.httpUrl, admin, 'dora')).token
  })
  after(async () => { await broker.stop() })

  it('refuses device-secret CONNECTs from an address over the login limit with CONNACK 3 before any hash; tokens and other addresses are not held back', async () => {
    await awayFromMinuteEnd()
    const checksBefore = await metric(broker, 'passwordHashes', 'verify')
    const codes: number[] = []
    for (let i = 0; i < 8; i++) codes.push(await connackFrom(broker, '127.0.0.3', { username: 'lamp', password: `guess-${i}`, clientId: `lamp-guess-${i}` }))
    assert.deepEqual(codes, [5, 5, 5, 5, 5, 3, 3, 3])
    assert.equal(await metric(broker, 'passwordHashes', 'verify') - checksBefore, 5, 'no hash for a refused CONNECT')
    assert.equal(await connackFrom(broker, '127.0.0.3', { username: 'lamp', password: 'lamp-secret-0123456789', clientId: 'lamp-1' }), 3, 'the right secret waits too')
    assert.equal(await connackFrom(broker, '127.0.0.3', { username: 'dora', password: token, clientId: 'dora-1' }), 0, 'a token costs no hash and is not counted')
    assert.equal(await connackFrom(broker, '127.0.0.4', { username: 'lamp', password: 'lamp-secret-0123456789', clientId: 'lamp-2' }), 0)
  })

  it('does not count a right device secret against its address: a fleet behind one address reconnects', async () => {
    for (let i = 0; i < 8; i++) assert.equal(await connackFrom(broker, '127.0.0.5', { username: 'lamp', password: 'lamp-secret-0123456789', clientId: `lamp-fleet-${i}` }), 0, `device ${i}`)
    assert.equal(await connackFrom(broker, '127.0.0.5', { username: 'lamp', password: 'a-guess', clientId: 'lamp-guess' }), 5, 'and a guess is still checked')
  })
})
