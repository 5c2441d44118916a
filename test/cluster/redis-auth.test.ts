/**
 * A cluster on a Redis that requires a password, as docs/operations.md ("Securing Redis and
 * MongoDB") asks: two broker nodes (in this process, `STORE=mongodb` on FerretDB or `MONGO_URL`)
 * reach each other through Debian's redis-server with `requirepass` and the least-privilege ACL
 * user the docs give. A wrong or missing password stops the start with a message that says so
 * (never quoting the password); a password changed under running nodes shows in `/healthz`, and
 * the nodes recover once it is right again. Then `rediss://` with a self-signed certificate:
 * trusted through `CLUSTER_REDIS_CA_FILE`, refused without it (again and again, without a crash).
 *
 * These always start their own redis-server (REDIS_URL is not used: the test sets the server up).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type { MqttClient } from 'mqtt'
import { openClusterEmitter } from '../../broker/cluster/emitter.js'
import type { ConfigInput } from '../../broker/config/schema.js'
import { createLogger } from '../../broker/ops/logger.js'
import { spawnBroker, startTestBroker, tempDataDir, type TestBroker } from '../helpers/broker.js'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'
import { api } from '../helpers/http.js'
import { collect, connectClient, waitFor } from '../helpers/mqtt.js'
import { answersPing, startRedis, type RedisServer } from '../helpers/redis.js'

const ADMIN_PASS = 'redis-admin-pass-0123456789'
const USER = 'mqttim'
const USER_PASS = 'mqttim-pass-0123456789'
/** The ACL user docs/operations.md gives the broker: pub/sub on every channel, nothing else. */
const BROKER_ACL = `${USER} on >${USER_PASS} resetchannels &* -@all +publish +subscribe +psubscribe +unsubscribe +punsubscribe +ping +info +client|setname`

interface Health { status: number, body: { ok: boolean, cluster: { kind: string, ok: boolean, error?: string } } }
const health = async (node: TestBroker): Promise<Health> => await api(node.httpUrl, 'GET', '/healthz') as Health

describe('a cluster on a Redis that requires a password', () => {
  let mongo: MongoServer
  let redis: RedisServer
  let settings: Partial<ConfigInput>
  let a: TestBroker | undefined
  let b: TestBroker | undefined
  const clients: MqttClient[] = []

  before(async () => {
    mongo = await startFerretDb()
    redis = await startRedis({ password: ADMIN_PASS, users: [BROKER_ACL], urlUser: { name: USER, password: USER_PASS } })
    settings = { STORE: 'mongodb', MONGO_URL: mongo.url, MONGO_DB: uniqueDbName('redisauth'), ANONYMOUS_NAMESPACE: '#', NODE_LEASE_MS: 1500 }
  })
  after(async () => {
    await Promise.all(clients.map(async (c) => { await c.endAsync(true) }))
    await a?.stop()
    await b?.stop()
    await redis?.stop()
    await mongo?.stop()
  })

  it('serves nobody without the password', async () => {
    assert.equal(await answersPing(redis.port), false, 'a PING without AUTH is refused')
    assert.equal(await answersPing(redis.port, 500, { auth: { user: USER, password: USER_PASS } }), true)
  })

  it('routes messages between two nodes logged in as the least-privilege ACL user', async () => {
    assert.match(redis.url, new RegExp(`^redis://${USER}:${USER_PASS}@127\\.0\\.0\\.1:\\d+$`))
    a = await startTestBroker({ ...settings, CLUSTER_REDIS_URL: redis.url })
    b = await startTestBroker({ ...settings, CLUSTER_REDIS_URL: redis.url })
    const listener = await connectClient(b.mqttUrl, { clientId: 'auth-listener-b' })
    clients.push(listener)
    await listener.subscribeAsync('auth/+', { qos: 1 })
    const got = collect(listener)
    const publisher = await connectClient(a.mqttUrl, { clientId: 'auth-publisher-a' })
    clients.push(publisher)
    await publisher.publishAsync('auth/one', 'across', { qos: 1 })
    await waitFor(() => got.length >= 1, 5000, 'the message on node B')
    assert.deepEqual(got, [{ topic: 'auth/one', payload: 'across', retain: false, qos: 1 }])
    for (const node of [a, b]) {
      const h = await health(node)
      assert.equal(h.status, 200)
      assert.deepEqual([h.body.cluster.kind, h.body.cluster.ok], ['redis', true])
    }
  })

  it('stops the start with a clear message when the password is wrong or missing, never quoting it', async () => {
    const wrong = `redis://${USER}:not-the-pass-4711@127.0.0.1:${redis.port}`
    await assert.rejects(startTestBroker({ ...settings, CLUSTER_REDIS_URL: wrong }), (err: Error) => {
      assert.match(err.message, /^Cannot reach Redis at 127\.0\.0\.1:\d+ \(CLUSTER_REDIS_URL\): Redis refused the credentials \(WRONGPASS/)
      assert.match(err.message, /CLUSTER_REDIS_URL must carry the password Redis requires/)
      assert.doesNotMatch(err.message, /not-the-pass-4711/)
      return true
    })
    await assert.rejects(startTestBroker({ ...settings, CLUSTER_REDIS_URL: `redis://127.0.0.1:${redis.port}` }), /Redis refused the credentials \(NOAUTH/)

    // what an operator sees: `npm start` exits at once, saying so
    const dataDir = tempDataDir()
    try {
      await assert.rejects(spawnBroker({ DATA_DIR: dataDir, ...stringSettings(settings), CLUSTER_REDIS_URL: wrong }), (err: Error) => {
        assert.match(err.message, /broker exited \(1\) before it was ready/)
        assert.match(err.message, /mqtt-im failed to start: Cannot reach Redis at 127\.0\.0\.1:\d+ \(CLUSTER_REDIS_URL\): Redis refused the credentials/)
        assert.doesNotMatch(err.message, /not-the-pass-4711/)
        return true
      })
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('reports refused credentials in /healthz while running, and recovers once they are right again', async () => {
    assert.ok(a && b, 'the nodes of the routing test run')
    const admin = new Redis({ port: redis.port, host: '127.0.0.1', password: ADMIN_PASS, lazyConnect: true })
    await admin.connect()
    try {
      // the password changes under the running nodes, which are thrown out and must log in again
      await admin.call('ACL', 'SETUSER', USER, 'resetpass', '>rotated-pass-0123456789')
      await admin.call('CLIENT', 'KILL', 'USER', USER)
      // first "reconnecting", then the refusal of its AUTH
      const down = await waitFor(async () => {
        const h = await health(a!)
        return h.status === 503 && /refused/.test(h.body.cluster.error ?? '') ? h : undefined
      }, 10_000, 'node A unhealthy, saying why')
      assert.equal(down.body.ok, false)
      assert.equal(down.body.cluster.ok, false)
      assert.match(down.body.cluster.error ?? '', /Redis refused the credentials \(WRONGPASS/)
      assert.doesNotMatch(down.body.cluster.error ?? '', new RegExp(USER_PASS))

      await admin.call('ACL', 'SETUSER', USER, 'resetpass', `>${USER_PASS}`)
      for (const node of [a, b]) await waitFor(async () => (await health(node)).status === 200, 15_000, 'the node healthy again')
    } finally {
      admin.disconnect()
    }
  })
})

describe('a cluster on Redis over TLS (rediss://) with a self-signed certificate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-im-redis-tls-'))
  const key = join(dir, 'redis.key')
  const cert = join(dir, 'redis.crt')
  let mongo: MongoServer
  let redis: RedisServer
  let settings: Partial<ConfigInput>
  const nodes: TestBroker[] = []
  const clients: MqttClient[] = []

  before(async () => {
    // self-signed: the certificate is its own CA
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=redis.test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
    mongo = await startFerretDb()
    redis = await startRedis({ password: ADMIN_PASS, tls: { keyFile: key, certFile: cert } })
    settings = { STORE: 'mongodb', MONGO_URL: mongo.url, MONGO_DB: uniqueDbName('redistls'), ANONYMOUS_NAMESPACE: '#', CLUSTER_REDIS_URL: redis.url }
  })
  after(async () => {
    await Promise.all(clients.map(async (c) => { await c.endAsync(true) }))
    await Promise.all(nodes.map(async (node) => { await node.stop() }))
    await redis?.stop()
    await mongo?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('refuses a certificate it cannot verify, saying which setting names the CA', async () => {
    assert.match(redis.url, /^rediss:\/\//)
    await assert.rejects(startTestBroker(settings), /the TLS certificate of Redis was not accepted \(self[- ]signed certificate\); name the CA that signed it in CLUSTER_REDIS_CA_FILE/)
  })

  it('survives refusing the certificate again and again: no socket error left unheard (ioredis hears only the first)', async () => {
    // Without a listener of its own on each socket, about one refused handshake in five ended in
    // an unheard second error (the server's TLS alert): in a running node, a crash.
    const unheard: Error[] = []
    const hear = (err: Error): void => { unheard.push(err) }
    process.on('uncaughtException', hear)
    try {
      for (let attempt = 0; attempt < 30; attempt++) {
        await assert.rejects(openClusterEmitter({ CLUSTER_REDIS_URL: redis.url }, createLogger('silent'), { startTimeoutMs: 3000 }), /TLS certificate of Redis was not accepted/)
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
    } finally {
      process.off('uncaughtException', hear)
    }
    assert.deepEqual(unheard.map((err) => err.message), [])
  })

  it('routes messages between two nodes once CLUSTER_REDIS_CA_FILE names the CA', async () => {
    for (let i = 0; i < 2; i++) nodes.push(await startTestBroker({ ...settings, CLUSTER_REDIS_CA_FILE: cert }))
    const [a, b] = nodes as [TestBroker, TestBroker]
    const listener = await connectClient(b.mqttUrl, { clientId: 'tls-listener-b' })
    clients.push(listener)
    await listener.subscribeAsync('tls/+', { qos: 1 })
    const got = collect(listener)
    const publisher = await connectClient(a.mqttUrl, { clientId: 'tls-publisher-a' })
    clients.push(publisher)
    await publisher.publishAsync('tls/one', 'encrypted', { qos: 1 })
    await waitFor(() => got.length >= 1, 5000, 'the message on node B')
    assert.deepEqual(got, [{ topic: 'tls/one', payload: 'encrypted', retain: false, qos: 1 }])
    assert.equal((await health(a)).status, 200)
  })
})

function stringSettings (settings: Partial<ConfigInput>): Record<string, string> {
  return Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)]))
}
