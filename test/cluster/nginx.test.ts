/**
 * Three broker nodes behind nginx, as deploy/nginx/mqtt-im.conf runs them: the clients know only
 * nginx's two ports — HTTP + MQTT over WebSocket, and MQTT over TCP — and nginx spreads their
 * connections round robin, with no stickiness. The nodes are child processes (`spawnBroker`
 * through RestartableBroker, so one can be `kill -9`ed) sharing one FerretDB (or `MONGO_URL`)
 * database and one Redis; nginx is Debian's, with the config test/helpers/nginx.ts renders from
 * the example's directives (all started by test/helpers/cluster.ts).
 *
 * Which node a client landed on is read from the nodes' own `GET /healthz` (`clients`), taken
 * directly on each node before and after the client connects. The node is killed last.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ServerEvent } from '../../shared/protocol.js'
import { ChatTraffic } from '../helpers/chat-traffic.js'
import { NginxCluster, range } from '../helpers/cluster.js'
import type { Principal } from '../helpers/http.js'
import { createConversation, join, type Participant } from '../helpers/im.js'
import { sleep, waitFor } from '../helpers/mqtt.js'

/** How long to keep listening after the expected messages, to catch duplicates and strays. */
const SETTLE_MS = 300
/** kill -9 scenario: each sender sends one message this often (below COMMANDS_PER_SECOND = 20) … */
const SEND_EVERY_MS = 60
/**
 * … while it has fewer than this many sends without their echo: the traffic follows what the
 * cluster takes, so a slow machine makes fewer messages, not a backlog the sends wait behind.
 */
const SEND_WINDOW = 8
/** … for this long, and the node dies this long after the first send */
const SEND_FOR_MS = 4000
const KILL_AFTER_MS = 1500

const msgSeqs = (p: Participant, cid: string): number[] => p.events.flatMap((e: ServerEvent) => (e.ev === 'msg' && e.msg.cid === cid ? [e.msg.seq] : []))
const texts = (p: Participant, cid: string): string[] => p.events.flatMap((e: ServerEvent) => (e.ev === 'msg' && e.msg.cid === cid ? [(e.msg.body as { text: string }).text] : []))

describe('three broker nodes behind nginx', () => {
  let cluster: NginxCluster
  const participants: Participant[] = []
  const traffic: ChatTraffic[] = []

  const joinThroughNginx = async (url: string, who: Principal): Promise<{ client: Participant, node: number }> => {
    const joined = await cluster.landing(async () => await join(url, who))
    participants.push(joined.client)
    return joined
  }

  before(async () => {
    cluster = await NginxCluster.start({ dbPrefix: 'nginx' })
  })

  after(async () => {
    await Promise.all(traffic.map(async (c) => { await c.close() }))
    await Promise.all(participants.map(async (p) => { await p.close() }))
    await cluster?.stop()
  })

  it('lets users on different nodes chat through nginx (MQTT/TCP): every msg event once, in seq order', async (t) => {
    const [alice, bob, carol] = await cluster.users('alice', 'bob', 'carol')
    const cid = await createConversation(cluster.lb.httpUrl, alice!.token, 'group', ['bob', 'carol'], 'across nodes')
    const joined = []
    for (const who of [alice!, bob!, carol!]) joined.push(await joinThroughNginx(cluster.lb.mqttUrl, who))
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
    assert.deepEqual((await cluster.history(cid, bob!.token)).map((m) => m.seq), range(1, 15))
  })

  it('carries MQTT over WebSocket through nginx (/mqtt upgrade)', async (t) => {
    const [dave, erin] = await cluster.users('dave', 'erin')
    const cid = await createConversation(cluster.lb.httpUrl, dave!.token, 'direct', ['erin'])
    const overWs = await joinThroughNginx(cluster.lb.wsUrl, dave!)
    const overTcp = await joinThroughNginx(cluster.lb.mqttUrl, erin!)
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
    await waitFor(() => /"GET \/mqtt HTTP\/1\.1" 101 127\.0\.0\.1:\d+/.test(cluster.lb.log()), 5000, 'the WebSocket in nginx\'s access log')
  })

  it('loses and duplicates nothing when a node is killed (kill -9) while its clients send: they reconnect through nginx to the others', async (t) => {
    const members = await cluster.users('s1', 's2', 's3', 'reader')
    const senders = members.slice(0, 3)
    const cid = await createConversation(cluster.lb.httpUrl, senders[0]!.token, 'group', members.slice(1).map((m) => m.uid), 'kill -9')

    const chat = new ChatTraffic({ mqttUrl: cluster.lb.mqttUrl, httpUrl: cluster.lb.httpUrl })
    traffic.push(chat)
    const clients: Array<{ uid: string, node: number }> = []
    for (const who of members) {
      chat.client(who)
      const { node } = await cluster.landing(async () => { await chat.connect(who.uid) })
      clients.push({ uid: who.uid, node })
    }
    // the victim: the node of the first sender; someone must be elsewhere for this to mean anything
    const victim = clients[0]!.node
    const onVictim = clients.filter((c) => c.node === victim).map((c) => c.uid)
    t.diagnostic(`clients: ${clients.map((c) => `${c.uid}@node${c.node}`).join(', ')}; killing node ${victim}`)
    assert.ok(clients.some((c) => c.node !== victim), 'a member on another node')

    const started = Date.now()
    const sending = senders.map(async (who) => {
      for (let n = 1; Date.now() - started < SEND_FOR_MS; n++) {
        chat.send(who.uid, cid, `${who.uid} ${n}`, `${who.uid}-${n}`)
        await sleep(SEND_EVERY_MS)
        while (chat.unconfirmed(who.uid) >= SEND_WINDOW && Date.now() - started < SEND_FOR_MS) await sleep(10)
      }
    })
    await sleep(KILL_AFTER_MS)
    chat.disrupted()
    await cluster.nodes[victim]!.kill('SIGKILL')
    await Promise.all(sending)

    // every send ends with its echo (the library re-sends with the same cmid until it comes), once
    // in the history, and every member's client hands out that history
    await chat.verify(t, [{ cid, members: members.map((m) => m.uid) }], async (c) => await cluster.history(c, senders[0]!.token))
    assert.deepEqual([...chat.drops.keys()].sort(), [...onVictim].sort(), 'the clients of the killed node, and only they, lost their connection')
    assert.deepEqual(chat.offline, [], 'every client is connected again')
    const counts = await cluster.clientCounts()
    assert.equal(counts[victim], -1)
    assert.equal(counts.filter((n) => n > 0).reduce((a, b) => a + b, 0), clients.length, `the surviving nodes carry every client (${counts.join(', ')})`)
  })
})
