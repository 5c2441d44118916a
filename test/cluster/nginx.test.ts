/**
 * Three broker nodes behind nginx, as deploy/nginx/mqtt-im.conf runs them: the clients know only
 * nginx's two ports — HTTP + MQTT over WebSocket, and MQTT over TCP — and nginx spreads their
 * connections round robin, with no stickiness. The nodes are child processes (`spawnBroker`
 * through RestartableBroker, so one can be `kill -9`ed) sharing one FerretDB (or `MONGO_URL`)
 * database and one Redis; nginx is Debian's, with the config test/helpers/nginx.ts renders from
 * the example's directives.
 *
 * Which node a client landed on is read from the nodes' own `GET /healthz` (`clients`), taken
 * directly on each node before and after the client connects. The node is killed last.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ImClient } from '../../shared/client/core.js'
import { createImClient } from '../../shared/client/index.js'
import type { Message, ServerEvent } from '../../shared/protocol.js'
import { RestartableBroker } from '../helpers/broker.js'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'
import { adminToken, api, createUser, type Principal } from '../helpers/http.js'
import { createConversation, join, type Participant } from '../helpers/im.js'
import { sleep, waitFor } from '../helpers/mqtt.js'
import { startNginx, type Nginx } from '../helpers/nginx.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'

const NODES = 3
/** How long to keep listening after the expected messages, to catch duplicates and strays. */
const SETTLE_MS = 300
/** kill -9 scenario: each sender sends one message this often (below COMMANDS_PER_SECOND = 20) … */
const SEND_EVERY_MS = 60
/** … for this long, and the node dies this long after the first send */
const SEND_FOR_MS = 4000
const KILL_AFTER_MS = 1500

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const msgSeqs = (p: Participant, cid: string): number[] => p.events.flatMap((e: ServerEvent) => (e.ev === 'msg' && e.msg.cid === cid ? [e.msg.seq] : []))
const texts = (p: Participant, cid: string): string[] => p.events.flatMap((e: ServerEvent) => (e.ev === 'msg' && e.msg.cid === cid ? [(e.msg.body as { text: string }).text] : []))

describe('three broker nodes behind nginx', () => {
  let mongo: MongoServer
  let redis: RedisServer
  let lb: Nginx
  let admin: string
  const nodes: RestartableBroker[] = []
  const participants: Participant[] = []
  const imClients: ImClient[] = []

  /** Each node's connected clients, asked of the node itself; -1 for a node that is gone. */
  const clientCounts = async (): Promise<number[]> => await Promise.all(nodes.map(async (node) => {
    if (node.current === undefined) return -1
    const health = await api(node.current.httpUrl, 'GET', '/healthz')
    return health.body.clients as number
  }))

  /** Connects one client through nginx and tells on which node (its index) it landed. */
  const landing = async <T>(connect: () => Promise<T>): Promise<{ client: T, node: number }> => {
    const before = await clientCounts()
    const client = await connect()
    const node = await waitFor(async () => {
      const index = (await clientCounts()).findIndex((count, i) => count > before[i]!)
      return index === -1 ? undefined : index
    }, 5000, 'a node counting the new client')
    return { client, node }
  }

  const joinThroughNginx = async (url: string, who: Principal): Promise<{ client: Participant, node: number }> => {
    const joined = await landing(async () => await join(url, who))
    participants.push(joined.client)
    return joined
  }

  /** The whole history of `cid`, read through nginx, page by page. */
  const history = async (cid: string, token: string): Promise<Message[]> => {
    const messages: Message[] = []
    for (;;) {
      const page = await api(lb.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=${messages.at(-1)?.seq ?? 0}&limit=200`, undefined, token)
      assert.equal(page.status, 200, JSON.stringify(page.body))
      if (page.body.messages.length === 0) return messages
      messages.push(...page.body.messages)
    }
  }

  const users = async (...uids: string[]): Promise<Principal[]> => await Promise.all(uids.map(async (uid) => await createUser(lb.httpUrl, admin, uid)))

  before(async () => {
    [mongo, redis] = await Promise.all([startFerretDb(), startRedis()])
    const env = {
      STORE: 'mongodb', MONGO_URL: mongo.url, MONGO_DB: uniqueDbName('nginx'), CLUSTER_REDIS_URL: redis.url,
      // as deploy/nginx/mqtt-im.conf says: believe nginx's X-Forwarded-For
      TRUST_PROXY: '127.0.0.1'
    }
    for (let i = 0; i < NODES; i++) nodes.push(new RestartableBroker(env))
    // the first alone: it creates the database's indexes and the admin; then the others at once
    await nodes[0]!.start()
    await Promise.all(nodes.slice(1).map(async (node) => await node.start()))
    lb = await startNginx({
      httpUpstreams: nodes.map((node) => `127.0.0.1:${node.broker.ports.http}`),
      mqttUpstreams: nodes.map((node) => `127.0.0.1:${node.broker.ports.mqtt}`)
    })
    admin = await adminToken(lb.httpUrl)
  })

  after(async () => {
    await Promise.all(imClients.map(async (c) => { await c.close() }))
    await Promise.all(participants.map(async (p) => { await p.close() }))
    await lb?.stop()
    await Promise.all(nodes.map(async (node) => { await node.dispose() }))
    await redis?.stop()
    await mongo?.stop()
  })

  it('lets users on different nodes chat through nginx (MQTT/TCP): every msg event once, in seq order', async (t) => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol')
    const cid = await createConversation(lb.httpUrl, alice!.token, 'group', ['bob', 'carol'], 'across nodes')
    const joined = []
    for (const who of [alice!, bob!, carol!]) joined.push(await joinThroughNginx(lb.mqttUrl, who))
    const landedOn = joined.map((j) => j.node)
    t.diagnostic(`alice, bob, carol landed on nodes ${landedOn.join(', ')}`)
    assert.ok(new Set(landedOn).size >= 2, `the three connections went to nodes ${landedOn.join(', ')}: round robin should spread them`)

    // each sends a burst in turn without waiting for the acks: the order is the sending node's, across Redis
    const sides = joined.map((j) => j.client)
    t.after(async () => { await Promise.all(sides.map(async (p) => { await p.close() })) })
    for (const [turn, sender] of sides.entries()) {
      await Promise.all(range(1, 5).map(async (n) => { await sender.command({ op: 'send', cmid: `${sender.uid}-${n}`, cid, type: 'text', body: { text: `${sender.uid} ${n}` } }) }))
      await waitFor(() => sides.every((p) => msgSeqs(p, cid).length >= 5 * (turn + 1)), 10_000, `${sender.uid}'s five messages on every side`)
    }
    await sleep(SETTLE_MS)

    for (const p of sides) {
      assert.deepEqual(msgSeqs(p, cid), range(1, 15), `${p.uid}'s msg events`)
      for (const [turn, sender] of sides.entries()) {
        assert.deepEqual(texts(p, cid).slice(5 * turn, 5 * turn + 5).sort(), range(1, 5).map((n) => `${sender.uid} ${n}`), `${p.uid} got ${sender.uid}'s burst in one piece`)
      }
    }
    assert.deepEqual((await history(cid, bob!.token)).map((m) => m.seq), range(1, 15))
  })

  it('carries MQTT over WebSocket through nginx (/mqtt upgrade)', async (t) => {
    const [dave, erin] = await users('dave', 'erin')
    const cid = await createConversation(lb.httpUrl, dave!.token, 'direct', ['erin'])
    const overWs = await joinThroughNginx(lb.wsUrl, dave!)
    const overTcp = await joinThroughNginx(lb.mqttUrl, erin!)
    t.diagnostic(`dave (WebSocket) landed on node ${overWs.node}, erin (TCP) on node ${overTcp.node}`)
    try {
      await overWs.client.command({ op: 'send', cmid: 'ws-1', cid, type: 'text', body: { text: 'over WebSocket' } })
      await overTcp.client.next('msg', (e) => e.msg.cmid === 'ws-1')
      await overTcp.client.command({ op: 'send', cmid: 'tcp-1', cid, type: 'text', body: { text: 'over TCP' } })
      await overWs.client.next('msg', (e) => e.msg.cmid === 'tcp-1')
      await sleep(SETTLE_MS)
      for (const p of [overWs.client, overTcp.client]) assert.deepEqual(msgSeqs(p, cid), [1, 2], `${p.uid}'s msg events`)
    } finally {
      await Promise.all([overWs.client.close(), overTcp.client.close()])
    }
    // the upgrade went through nginx's http block and a node answered 101 (logged once the tunnel closed)
    await waitFor(() => /"GET \/mqtt HTTP\/1\.1" 101 127\.0\.0\.1:\d+/.test(lb.log()), 5000, 'the WebSocket in nginx\'s access log')
  })

  it('loses and duplicates nothing when a node is killed (kill -9) while its clients send: they reconnect through nginx to the others', async (t) => {
    const members = await users('s1', 's2', 's3', 'reader')
    const senders = members.slice(0, 3)
    const cid = await createConversation(lb.httpUrl, senders[0]!.token, 'group', members.slice(1).map((m) => m.uid), 'kill -9')

    const acknowledged = new Set<string>() // PUBACK (stored) or echo
    const attempts = new Map<string, number>()
    const received = new Map<string, Message[]>()
    const drops = new Map<string, number>()
    /** ms from the kill to each reconnect */
    const backAfter = new Map<string, number>()
    let killedAt = 0
    /** reconnect attempts that failed, and why */
    const failedAttempts: string[] = []
    const clients: Array<{ uid: string, client: ImClient, node: number }> = []
    for (const who of members) {
      const client = createImClient({
        mqttUrl: lb.mqttUrl, httpUrl: lb.httpUrl, uid: who.uid, token: who.token, clientId: `${who.uid}-nginx`,
        reconnect: { initialMs: 100, maxMs: 1000 }, echoTimeoutMs: 2000
      })
      imClients.push(client)
      received.set(who.uid, [])
      client.on('message', (m) => { if (m.cid === cid) received.get(who.uid)!.push(m) })
      client.on('pending', (p) => {
        attempts.set(p.cmid, p.attempts)
        if (p.status === 'stored') acknowledged.add(p.cmid)
      })
      client.on('sent', (m) => { acknowledged.add(m.cmid) })
      client.on('disconnected', () => { drops.set(who.uid, (drops.get(who.uid) ?? 0) + 1) })
      client.on('connected', () => { if (killedAt > 0) backAfter.set(who.uid, Date.now() - killedAt) })
      client.on('reconnecting', (e) => { if (e.error !== undefined) failedAttempts.push(`${who.uid}: ${e.error.message}`) })
      const { node } = await landing(async () => { await client.connect() })
      clients.push({ uid: who.uid, client, node })
    }
    // the victim: the node of the first sender; someone must be elsewhere for this to mean anything
    const victim = clients[0]!.node
    const onVictim = clients.filter((c) => c.node === victim).map((c) => c.uid)
    t.diagnostic(`clients: ${clients.map((c) => `${c.uid}@node${c.node}`).join(', ')}; killing node ${victim}`)
    assert.ok(clients.some((c) => c.node !== victim), 'a member on another node')

    let sent = 0
    const sends: Array<Promise<Message>> = []
    const started = Date.now()
    const sending = senders.map(async (who, k) => {
      const client = clients[k]!.client
      for (let n = 1; Date.now() - started < SEND_FOR_MS; n++) {
        sent++
        sends.push(client.send(cid, `${who.uid} ${n}`, 'text', { cmid: `${who.uid}-${n}` }))
        await sleep(SEND_EVERY_MS)
      }
    })
    await sleep(KILL_AFTER_MS)
    killedAt = Date.now()
    await nodes[victim]!.kill('SIGKILL')
    await Promise.all(sending)

    // every send ends with its echo (the library re-sends with the same cmid until it comes)
    const outcomes = await Promise.allSettled(sends)
    const failed = outcomes.filter((o) => o.status === 'rejected')
    const stored = await history(cid, senders[0]!.token)
    const storedCmids = stored.map((m) => m.cmid)
    const lost = [...acknowledged].filter((cmid) => !storedCmids.includes(cmid))
    const duplicated = storedCmids.length - new Set(storedCmids).size
    const resent = [...attempts.values()].filter((a) => a > 1).length
    t.diagnostic(`sent ${sent}, acknowledged ${acknowledged.size}, stored ${stored.length}, lost ${lost.length}, duplicated ${duplicated}; ${resent} sends published more than once, ${failed.length} failed`)
    t.diagnostic(`dropped connections: ${[...drops].map(([uid, n]) => `${uid} ×${n}`).join(', ') || 'none'}; connected again through nginx: ${[...backAfter].map(([uid, ms]) => `${uid} after ${ms} ms`).join(', ') || 'none'}`)
    // A reconnect that fails with "connack timeout" (10 s lost) is not nginx's doing: aedes 1.2 restores
    // the session's subscriptions before it writes the CONNACK, so a message arriving meanwhile goes
    // out first, and MQTT.js, holding that PUBLISH's PUBACK until it is connected, reads no further.
    t.diagnostic(`failed reconnect attempts: ${failedAttempts.join('; ') || 'none'}`)

    assert.deepEqual(failed.map((o) => String((o as PromiseRejectedResult).reason)), [])
    assert.deepEqual(lost, [], 'acknowledged but not stored')
    assert.equal(duplicated, 0, 'stored twice')
    assert.equal(acknowledged.size, sent, 'every send acknowledged')
    assert.equal(stored.length, sent, 'every send stored once')
    assert.deepEqual(stored.map((m) => m.seq), range(1, stored.length), 'seq 1..N without a gap')
    assert.deepEqual([...drops.keys()].sort(), [...onVictim].sort(), 'the clients of the killed node, and only they, lost their connection')
    for (const c of clients) assert.ok(c.client.connected, `${c.uid} is connected again`)
    const counts = await clientCounts()
    assert.equal(counts[victim], -1)
    assert.equal(counts.filter((n) => n > 0).reduce((a, b) => a + b, 0), clients.length, `the surviving nodes carry every client (${counts.join(', ')})`)

    // and every member's client handed out the same history, once, in order
    const want = stored.map((m) => `${m.seq}:${m.id}`)
    for (const c of clients) {
      await waitFor(() => received.get(c.uid)!.length >= stored.length, 10_000, `${c.uid}'s client to catch up`).catch(() => undefined)
    }
    await sleep(SETTLE_MS)
    for (const c of clients) assert.deepEqual(received.get(c.uid)!.map((m) => `${m.seq}:${m.id}`), want, `${c.uid}'s messages`)
  })
})
