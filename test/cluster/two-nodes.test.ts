/**
 * Two broker nodes, one MongoDB database and one Redis: what a client does on one node is seen by
 * the clients of the other, as on one broker. Both nodes run in this process (startTestBroker,
 * `STORE=mongodb`, the same `MONGO_DB`, `CLUSTER_REDIS_URL`), with FerretDB (or `MONGO_URL`) and
 * Debian's redis-server (or `REDIS_URL`) started for the file; the clients are MQTT.js over TCP.
 *
 * The Redis outage comes last: after it the nodes keep serving their own clients only.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MongoClient } from 'mongodb'
import type { IClientOptions, MqttClient } from 'mqtt'
import type { ConfigInput } from '../../broker/config/schema.js'
import type { ServerEvent } from '../../shared/protocol.js'
import { freePort, startTestBroker, type TestBroker } from '../helpers/broker.js'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'
import { adminToken, api, createUser, type Principal } from '../helpers/http.js'
import { createConversation, join, type Participant } from '../helpers/im.js'
import { closedByBroker, collect, connectClient, openSession, sleep, waitFor, type Received, type Session } from '../helpers/mqtt.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'

/** How long to keep listening after the expected messages, to catch duplicates and strays. */
const SETTLE_MS = 300
/** small, so that a node counting a queue wrong shows within a few messages */
const QUEUE_MAX_MESSAGES = 5


const payloadsOn = (got: Received[], topic: string): string[] => got.filter((m) => m.topic === topic).map((m) => m.payload)
const msgSeqs = (p: Participant, cid: string): number[] => p.events.flatMap((e: ServerEvent) => (e.ev === 'msg' && e.msg.cid === cid ? [e.msg.seq] : []))
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('two broker nodes sharing MongoDB and Redis', () => {
  let mongo: MongoServer
  let redis: RedisServer
  let settings: Partial<ConfigInput>
  let a: TestBroker
  let b: TestBroker
  let admin: string
  const clients: MqttClient[] = []
  const participants: Participant[] = []

  const anon = async (node: TestBroker, clientId: string, options: IClientOptions = {}): Promise<MqttClient> => {
    const client = await connectClient(node.mqttUrl, { clientId, ...options })
    clients.push(client)
    return client
  }
  const session = async (node: TestBroker, clientId: string): Promise<Session> => {
    const opened = await openSession(node.mqttUrl, { clientId, clean: false })
    clients.push(opened.client)
    return opened
  }
  /** The session record both nodes keep in MongoDB (broker/persistence/session-expiry.ts). */
  const sessionRecord = async (clientId: string): Promise<{ online: boolean } | null> => {
    const client = new MongoClient(mongo.url)
    try {
      return await client.db(settings.MONGO_DB).collection<{ _id: string, online: boolean }>('sessions').findOne({ _id: clientId })
    } finally {
      await client.close()
    }
  }
  const joinAs = async (node: TestBroker, who: Principal): Promise<Participant> => {
    const p = await join(node.mqttUrl, who)
    participants.push(p)
    return p
  }

  before(async () => {
    mongo = await startFerretDb()
    redis = await startRedis()
    // MONGO_DB named here, the same for both: startTestBroker would give each its own otherwise
    settings = { STORE: 'mongodb', MONGO_URL: mongo.url, MONGO_DB: uniqueDbName('cluster'), CLUSTER_REDIS_URL: redis.url, ANONYMOUS_NAMESPACE: '#', QUEUE_MAX_MESSAGES, NODE_LEASE_MS: 1500 }
    a = await startTestBroker(settings)
    b = await startTestBroker(settings)
    admin = await adminToken(a.httpUrl)
  })

  after(async () => {
    await Promise.all(clients.map(async (c) => { await c.endAsync(true) }))
    await Promise.all(participants.map(async (p) => { await p.close() }))
    await a?.stop()
    await b?.stop()
    await redis?.stop()
    await mongo?.stop()
  })

  it('gives each node its own aedes id', () => {
    assert.notEqual(a.server.aedes.id, b.server.aedes.id)
  })

  it('delivers a QoS 1 publish on node A to the subscribers of node B exactly once, whatever their filter', async () => {
    const exact = await anon(b, 'sub-exact-b')
    await exact.subscribeAsync('cluster/one', { qos: 1 })
    const wildcard = await anon(b, 'sub-wild-b')
    await wildcard.subscribeAsync('cluster/+', { qos: 1 })
    const local = await anon(a, 'sub-a')
    await local.subscribeAsync('cluster/#', { qos: 1 })
    const [gotExact, gotWildcard, gotLocal] = [collect(exact), collect(wildcard), collect(local)]

    const publisher = await anon(a, 'pub-a')
    for (const n of [1, 2, 3]) await publisher.publishAsync('cluster/one', `m${n}`, { qos: 1 })
    await waitFor(() => [gotExact, gotWildcard, gotLocal].every((got) => got.length >= 3), 5000, 'three messages on each subscriber')
    await sleep(SETTLE_MS)
    for (const got of [gotExact, gotWildcard, gotLocal]) {
      assert.deepEqual(got, ['m1', 'm2', 'm3'].map((payload) => ({ topic: 'cluster/one', payload, retain: false, qos: 1 })))
    }
  })

  it('delivers a retained message stored through node A to a new subscriber on node B', async () => {
    const publisher = await anon(a, 'retainer-a')
    await publisher.publishAsync('cluster/retained', 'kept', { qos: 1, retain: true })
    const late = await anon(b, 'late-b')
    const got = collect(late)
    await late.subscribeAsync('cluster/retained', { qos: 1 })
    await waitFor(() => got.length > 0, 5000, 'the retained message on B')
    await sleep(SETTLE_MS)
    assert.deepEqual(got, [{ topic: 'cluster/retained', payload: 'kept', retain: true, qos: 1 }])
  })

  it('lets alice on node A and bob on node B chat: both get every msg event once, in seq order', async () => {
    const alice = await createUser(a.httpUrl, admin, 'alice')
    const bob = await createUser(b.httpUrl, admin, 'bob')
    const cid = await createConversation(a.httpUrl, alice.token, 'direct', ['bob'])
    const onA = await joinAs(a, alice)
    const onB = await joinAs(b, bob)

    // each side sends a burst without waiting: the order is the sending node's, across Redis
    await Promise.all(range(1, 5).map(async (n) => { await onA.command({ op: 'send', cmid: `a${n}`, cid, type: 'text', body: { text: `from alice ${n}` } }) }))
    await waitFor(() => msgSeqs(onA, cid).length >= 5 && msgSeqs(onB, cid).length >= 5, 10_000, 'alice\'s five messages on both sides')
    await Promise.all(range(1, 5).map(async (n) => { await onB.command({ op: 'send', cmid: `b${n}`, cid, type: 'text', body: { text: `from bob ${n}` } }) }))
    await waitFor(() => msgSeqs(onA, cid).length >= 10 && msgSeqs(onB, cid).length >= 10, 10_000, 'bob\'s five messages on both sides')
    await sleep(SETTLE_MS)

    for (const p of [onA, onB]) assert.deepEqual(msgSeqs(p, cid), range(1, 10), `${p.uid}'s msg events`)
    const texts = onB.events.flatMap((e) => (e.ev === 'msg' ? [(e.msg.body as { text: string }).text] : []))
    assert.deepEqual(texts.slice(0, 5).sort(), range(1, 5).map((n) => `from alice ${n}`))
    assert.deepEqual(texts.slice(5).sort(), range(1, 5).map((n) => `from bob ${n}`))
    // and history over HTTP, from either node
    const history = await api(b.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=0&limit=50`, undefined, alice.token)
    assert.equal(history.status, 200)
    assert.deepEqual(history.body.messages.map((m: { seq: number }) => m.seq), range(1, 10))
  })

  it('gives a principal with a connection on each node every event once per connection', async () => {
    const erin = await createUser(a.httpUrl, admin, 'erin')
    const finn = await createUser(a.httpUrl, admin, 'finn')
    const cid = await createConversation(a.httpUrl, erin.token, 'direct', ['finn'])
    const sender = await joinAs(a, erin)
    const finnOnA = await joinAs(a, finn)
    const finnOnB = await joinAs(b, finn)
    await Promise.all(range(1, 5).map(async (n) => { await sender.command({ op: 'send', cmid: `e${n}`, cid, type: 'text', body: { text: `to both ${n}` } }) }))
    await waitFor(() => msgSeqs(finnOnA, cid).length >= 5 && msgSeqs(finnOnB, cid).length >= 5, 10_000, 'five messages on both of finn\'s connections')
    await sleep(SETTLE_MS)
    assert.deepEqual(msgSeqs(finnOnA, cid), range(1, 5), 'finn on node A')
    assert.deepEqual(msgSeqs(finnOnB, cid), range(1, 5), 'finn on node B')
    assert.deepEqual(msgSeqs(sender, cid), range(1, 5), 'the sender\'s echoes')
  })

  it('takes over a persistent session across nodes: the old connection on A is closed, B delivers what was queued meanwhile', async () => {
    const first = await session(a, 'roamer')
    assert.equal(first.sessionPresent, false)
    await first.client.subscribeAsync('roam/t', { qos: 1 })

    // the same client id on node B: node A closes its connection [MQTT-3.1.4-2]
    const closed = closedByBroker(first.client)
    const second = await session(b, 'roamer')
    assert.equal(second.sessionPresent, true, 'B finds the session A stored')
    await closed
    await waitFor(() => !('roamer' in clientsOf(a)), 3000, 'A lets go of roamer')
    // the session record (session-expiry.ts) stays "connected": A's close came from B's takeover
    await sleep(SETTLE_MS)
    assert.equal((await sessionRecord('roamer'))?.online, true, 'the session is recorded as connected (to B)')

    // live: published on A, delivered by B, once
    const publisherA = await anon(a, 'roam-pub-a')
    await publisherA.publishAsync('roam/t', 'live', { qos: 1 })
    await waitFor(() => second.got.length >= 1, 5000, 'the live message on B')

    // offline: queued by A and by B (B knows the subscription made on A), delivered by B
    await second.client.endAsync()
    const publisherB = await anon(b, 'roam-pub-b')
    await publisherA.publishAsync('roam/t', 'queued via A', { qos: 1 })
    await publisherB.publishAsync('roam/t', 'queued via B', { qos: 1 })
    const third = await session(b, 'roamer')
    assert.equal(third.sessionPresent, true)
    await waitFor(() => third.got.length >= 2, 5000, 'the queued messages on B')
    await sleep(SETTLE_MS)
    assert.deepEqual(payloadsOn(second.got, 'roam/t'), ['live'])
    assert.deepEqual(payloadsOn(third.got, 'roam/t'), ['queued via A', 'queued via B'])
  })

  it('queues for an offline session however many messages another node delivered to it before', async () => {
    // Each node counts a client's queue in memory (QUEUE_MAX_MESSAGES): what node A queued and node B
    // delivered (and deleted) must not stay counted on A.
    const listener = await session(b, 'counted')
    await listener.client.subscribeAsync('count/t', { qos: 1 })
    const publisher = await anon(a, 'count-pub-a')
    for (const n of range(1, 2 * QUEUE_MAX_MESSAGES)) await publisher.publishAsync('count/t', `live ${n}`, { qos: 1 })
    await waitFor(() => listener.got.length >= 2 * QUEUE_MAX_MESSAGES, 5000, 'the live messages on B')
    await sleep(SETTLE_MS) // the PUBACKs reach B and its deletes MongoDB
    await listener.client.endAsync()

    for (const n of [1, 2]) await publisher.publishAsync('count/t', `offline ${n}`, { qos: 1 })
    const back = await session(b, 'counted')
    await waitFor(() => back.got.length >= 2, 5000, 'the queued messages')
    await sleep(SETTLE_MS)
    assert.deepEqual(payloadsOn(back.got, 'count/t'), ['offline 1', 'offline 2'])
  })

  it('publishes on node B the will of a client whose connection to node A dies', async () => {
    const watcher = await anon(b, 'will-watcher-b')
    await watcher.subscribeAsync('wills/#', { qos: 1 })
    const got = collect(watcher)
    const dying = await anon(a, 'will-dies-a', { will: { topic: 'wills/a', payload: Buffer.from('gone'), qos: 1, retain: false } })
    dying.stream.destroy()
    await waitFor(() => got.length > 0, 5000, 'the will on B')
    await sleep(SETTLE_MS)
    assert.deepEqual(got, [{ topic: 'wills/a', payload: 'gone', retain: false, qos: 1 }])
  })

  it('does not start a node whose Redis cannot be reached, and says where it looked', async () => {
    const port = await freePort()
    const started = Date.now()
    await assert.rejects(startTestBroker({ ...settings, CLUSTER_REDIS_URL: `redis://:n0t-this-one@127.0.0.1:${port}` }), (err: Error) => {
      assert.match(err.message, new RegExp(`^Cannot reach Redis at 127\\.0\\.0\\.1:${port} \\(CLUSTER_REDIS_URL\\)`))
      assert.doesNotMatch(err.message, /n0t-this-one/)
      return true
    })
    assert.ok(Date.now() - started < 10_000, `gave up after ${Date.now() - started} ms`)
  })

  it('reports Redis in /healthz; without Redis, 503 while each node keeps serving its own clients', async (t) => {
    for (const [node, leader] of [[a, true], [b, false]] as const) {
      // each node sees the other from its next lease renewal on (every NODE_LEASE_MS / 3)
      const health = await waitFor(async () => { const h = await api(node.httpUrl, 'GET', '/healthz'); return h.body.cluster?.nodes === 2 ? h : undefined }, 5000, 'both nodes seen')
      assert.equal(health.status, 200)
      // a, started first, is the oldest node: it runs the cluster's timers
      assert.deepEqual(health.body.cluster, { kind: 'redis', ok: true, node: node.server.aedes.id, nodes: 2, leader })
      assert.deepEqual(health.body.store, { kind: 'mongodb', ok: true })
    }
    if (redis.kind === 'external') {
      t.skip('REDIS_URL names a Redis this test must not stop')
      return
    }
    const listener = await anon(a, 'local-listener-a')
    await listener.subscribeAsync('local/#', { qos: 1 })
    const got = collect(listener)
    const carol = await createUser(a.httpUrl, admin, 'carol')
    const dave = await createUser(a.httpUrl, admin, 'dave')
    const cid = await createConversation(a.httpUrl, carol.token, 'direct', ['dave'])
    const carolOnA = await joinAs(a, carol)
    const daveOnA = await joinAs(a, dave)

    await redis.stop()
    for (const node of [a, b]) {
      const health = await waitFor(async () => { const h = await api(node.httpUrl, 'GET', '/healthz'); return h.status === 503 ? h : undefined }, 5000, 'a 503 from /healthz')
      assert.equal(health.body.ok, false)
      assert.equal(health.body.cluster.kind, 'redis')
      assert.equal(health.body.cluster.ok, false)
      assert.match(health.body.cluster.error, /^Redis at 127\.0\.0\.1:\d+ is unreachable/)
      assert.deepEqual(health.body.store, { kind: 'mongodb', ok: true })
    }

    // MQTT on node A: the clients connected before still are; new ones connect, subscribe, publish
    assert.ok(listener.connected)
    const newcomer = await anon(a, 'local-newcomer-a')
    await newcomer.subscribeAsync('local/new', { qos: 1 })
    const gotNew = collect(newcomer)
    const persistent = await session(a, 'local-persistent-a')
    await persistent.client.subscribeAsync('local/new', { qos: 1 }) // announced on node A only
    const publisher = await anon(a, 'local-pub-a')
    await publisher.publishAsync('local/new', 'still here', { qos: 1 })
    await waitFor(() => got.length >= 1 && gotNew.length >= 1 && persistent.got.length >= 1, 5000, 'the local message on each subscriber of A')

    // IM between two users of node A, and its HTTP API
    await carolOnA.command({ op: 'send', cmid: 'outage-1', cid, type: 'text', body: { text: 'Redis is down' } })
    await carolOnA.next('msg', (e) => e.msg.cmid === 'outage-1')
    await daveOnA.next('msg', (e) => e.msg.cmid === 'outage-1')
    assert.equal((await api(a.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=0`, undefined, dave.token)).status, 200)

    await sleep(SETTLE_MS)
    for (const received of [got, gotNew, persistent.got]) assert.deepEqual(payloadsOn(received, 'local/new'), ['still here'])

    // A persistent subscription made on node A while Redis is away reaches node B's queueing once
    // Redis is back (cluster/subscription-resync.ts): B queues what is published there for it.
    const away = await session(a, 'resync-persistent')
    await away.client.subscribeAsync('resync/t', { qos: 1 })
    await away.client.endAsync()
    const port = Number(new URL(redis.url).port)
    redis = await startRedis({ port })
    for (const node of [a, b]) await waitFor(async () => (await api(node.httpUrl, 'GET', '/healthz')).status === 200, 10_000, 'Redis back on both nodes')
    const publisherOnB = await anon(b, 'resync-pub-b')
    await waitFor(async () => {
      // until B's index has it: what B publishes before that finds no subscriber (and is not kept)
      await publisherOnB.publishAsync('resync/t', 'after the outage', { qos: 1 })
      const back = await session(b, 'resync-persistent')
      await sleep(200)
      await back.client.endAsync()
      return payloadsOn(back.got, 'resync/t').includes('after the outage')
    }, 5000, 'the message published on B queued for the session subscribed on A during the outage')
  })
})

function clientsOf (node: TestBroker): Record<string, unknown> {
  // aedes keeps its connected clients by id; its types do not declare the map
  return (node.server.aedes as unknown as { clients: Record<string, unknown> }).clients
}
