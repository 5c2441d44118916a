/**
 * The support desk and presence on several broker nodes sharing one MongoDB (FerretDB, or
 * `MONGO_URL`) and one Redis: who owns a chat is decided in the store, so agents on two nodes
 * racing for one visitor, or for one agent's last slot, never both win; the cluster's timers run
 * on one live node, so a visitor whose node died is still idle-released on time and its agent
 * gets the next visitor; presence is online while any connection on any node is up, and the
 * users of a node that died go offline once its lease runs out. [IM-SUPPORT-1] [IM-PRESENCE-1]
 *
 * Nodes A and B run in this process (A first: the oldest node runs the timers); node C is a
 * child process, so that it can be killed with SIGKILL. Leases and idle release are short here
 * (NODE_LEASE_MS, IDLE_RELEASE_MS) so that the deadlines come within seconds.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ConfigInput } from '../../broker/config/schema.js'
import type { ConvEvent, ErrorEvent, ServerEvent } from '../../shared/protocol.js'
import { spawnBroker, startTestBroker, type SpawnedBroker, type TestBroker } from '../helpers/broker.js'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'
import { adminToken, createUser, defaultSiteKey } from '../helpers/http.js'
import { createConversation, join, type Participant } from '../helpers/im.js'
import { sleep, waitFor } from '../helpers/mqtt.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'
import { agentStates, assertOneOwner, newVisitor, onDuty, openChat } from '../helpers/support.js'

const NODE_LEASE_MS = 1500
const IDLE_RELEASE_MS = 4000
const AGENT_AWAY_GRACE_MS = 1000
/** how long to keep listening for an event that must not come */
const SETTLE_MS = 1000

const assignedTo = (p: Participant, cid: string): boolean => p.events.some((e) => e.ev === 'conv' && e.type === 'assigned' && e.conv.cid === cid)
const claimErrors = (p: Participant): ErrorEvent[] => p.events.filter((e): e is ErrorEvent => e.ev === 'error' && e.op === 'support.claim')
const presenceOf = (p: Participant, uid: string): Array<{ online: boolean }> =>
  p.events.flatMap((e: ServerEvent) => (e.ev === 'presence' && e.uid === uid ? [{ online: e.online }] : []))

describe('the support desk and presence on several nodes', () => {
  let mongo: MongoServer
  let redis: RedisServer
  let settings: Partial<ConfigInput>
  let a: TestBroker
  let b: TestBroker
  const spawned: SpawnedBroker[] = []
  let admin: string
  let siteKey: string
  const open: Participant[] = []
  const track = (p: Participant): Participant => { open.push(p); return p }

  const agentOn = async (node: { mqttUrl: string }, uid: string, capacity: number, status: 'online' | 'away' = 'online'): Promise<Participant> =>
    track(await onDuty(node.mqttUrl, await createUser(a.httpUrl, admin, uid, 'agent'), capacity, status))
  /** A visitor connected to `node` with a chat opened through that node's HTTP. */
  const chatOn = async (node: { mqttUrl: string, httpUrl: string }): Promise<{ v: Participant, cid: string }> => {
    const v = track(await join(node.mqttUrl, await newVisitor(node.httpUrl, siteKey)))
    return { v, cid: (await openChat(node.httpUrl, v)).conv.cid }
  }

  before(async () => {
    mongo = await startFerretDb()
    redis = await startRedis()
    settings = {
      STORE: 'mongodb', MONGO_URL: mongo.url, MONGO_DB: uniqueDbName('desk_nodes'), CLUSTER_REDIS_URL: redis.url,
      NODE_LEASE_MS, IDLE_RELEASE_MS, AGENT_AWAY_GRACE_MS, COMMANDS_PER_SECOND: 1000, COMMAND_BURST: 1000
    }
    a = await startTestBroker(settings)
    b = await startTestBroker(settings)
    admin = await adminToken(a.httpUrl)
    siteKey = await defaultSiteKey(a.httpUrl, admin)
  })

  after(async () => {
    await Promise.all(open.map(async (p) => { await p.close() }))
    await Promise.all(spawned.map(async (node) => await node.kill('SIGKILL')))
    await b?.stop()
    await a?.stop()
    await redis?.stop()
    await mongo?.stop()
  })

  it('lets one of two agents on two nodes claiming one visitor win, every time', async () => {
    const onA = await agentOn(a, 'race-a', 1, 'away') // away: nothing is assigned to them but what they claim
    const onB = await agentOn(b, 'race-b', 1, 'away')
    const cids: string[] = []
    for (let round = 0; round < 6; round++) {
      const { cid } = await chatOn(round % 2 === 0 ? a : b)
      cids.push(cid)
      const errorsBefore = claimErrors(onA).length + claimErrors(onB).length
      await Promise.all([onA.command({ op: 'support.claim', cid }), onB.command({ op: 'support.claim', cid })])
      const [winner, loser] = await waitFor(() => {
        const won = [onA, onB].filter((p) => assignedTo(p, cid))
        const refusals = claimErrors(onA).length + claimErrors(onB).length - errorsBefore
        return won.length >= 1 && won.length + refusals >= 2 ? [won[0]!, won[0] === onA ? onB : onA] : undefined
      }, 5000, `both answers for ${cid}`)
      assert.ok(!assignedTo(loser, cid), `${cid} assigned to both ${winner.uid} and ${loser.uid}`)
      await winner.command({ op: 'support.close', cid })
      await winner.next('conv', (e) => e.type === 'closed' && e.conv.cid === cid)
    }
    const errors = [...claimErrors(onA), ...claimErrors(onB)]
    assert.equal(errors.length, 6, `one refusal per round: ${JSON.stringify(errors)}`)
    assert.ok(errors.every((e) => e.code === 'IM_ERR_ALREADY_ASSIGNED'), JSON.stringify(errors))
    await assertOneOwner(b.httpUrl, admin, cids)
  })

  it('gives an agent\'s last slot to one of two chats claimed through two nodes at once', async () => {
    const principal = await createUser(a.httpUrl, admin, 'slot-agent', 'agent')
    const onA = track(await onDuty(a.mqttUrl, principal, 1, 'away'))
    const onB = track(await join(b.mqttUrl, principal)) // the same agent, a second connection, on node B
    const first = await chatOn(a)
    const second = await chatOn(b)
    await Promise.all([onA.command({ op: 'support.claim', cid: first.cid }), onB.command({ op: 'support.claim', cid: second.cid })])
    const answers = await waitFor(() => {
      const all = [...onA.events, ...onB.events].filter((e) => (e.ev === 'conv' && e.type === 'assigned') || (e.ev === 'error' && e.op === 'support.claim'))
      return all.length >= 3 ? all : undefined // the assignment reaches both connections; the refusal the one that asked
    }, 5000, 'both claims answered')
    const won = new Set(answers.flatMap((e) => (e.ev === 'conv' ? [e.conv.cid] : [])))
    assert.equal(won.size, 1, `exactly one chat won: ${JSON.stringify(answers)}`)
    assert.ok(answers.some((e) => e.ev === 'error' && e.code === 'IM_ERR_AGENT_FULL'), JSON.stringify(answers))
    const owners = await assertOneOwner(a.httpUrl, admin, [first.cid, second.cid])
    assert.deepEqual([...owners.values()].filter(Boolean), ['slot-agent'])
    await onA.command({ op: 'agent.status', status: 'offline' })
  })

  it('releases on time the visitor of a node killed with SIGKILL, and gives its agent the next visitor', async (t) => {
    const c = await spawnBroker(Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)])))
    spawned.push(c)
    const agent = await agentOn(a, 'idle-agent', 1)
    const gone = await chatOn(c)
    await waitFor(() => assignedTo(agent, gone.cid), 5000, 'the chat of the visitor on node C assigned')
    const next = await chatOn(b) // waits: the agent is full
    await sleep(300)
    assert.ok(!assignedTo(agent, next.cid))

    const killedAt = Date.now()
    await c.kill('SIGKILL')
    const closed = await agent.next('conv', (e) => e.type === 'closed' && e.conv.cid === gone.cid, IDLE_RELEASE_MS + NODE_LEASE_MS + 10_000) as ConvEvent
    const releasedAfter = Date.now() - killedAt
    t.diagnostic(`released ${releasedAfter} ms after the kill (IDLE_RELEASE_MS ${IDLE_RELEASE_MS})`)
    assert.equal(closed.conv.support?.closedReason, 'idle')
    // on time: the idle countdown from the visitor's last traffic the dead node stored (it stores
    // it every IDLE_RELEASE_MS / 5), not from when the others noticed the node was gone
    assert.ok(releasedAfter <= IDLE_RELEASE_MS + 3000, `released ${releasedAfter} ms after the kill`)
    await agent.next('conv', (e) => e.type === 'assigned' && e.conv.cid === next.cid, 5000)
    await assertOneOwner(a.httpUrl, admin, [gone.cid, next.cid])
    await agent.command({ op: 'support.close', cid: next.cid })
    await agent.command({ op: 'agent.status', status: 'offline' })
  })

  it('makes the agent of a node killed with SIGKILL away once the node\'s lease and the grace period ran out', async (t) => {
    const d = await spawnBroker(Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)])))
    spawned.push(d)
    const stranded = await agentOn(d, 'stranded-agent', 2)
    const killedAt = Date.now()
    await d.kill('SIGKILL')
    const away = await waitFor(async () => {
      const agent = (await agentStates(a.httpUrl, admin)).get('stranded-agent')
      return agent?.status === 'away' ? agent : undefined
    }, NODE_LEASE_MS + AGENT_AWAY_GRACE_MS + 10_000, 'the agent away')
    const awayAfter = Date.now() - killedAt
    t.diagnostic(`away ${awayAfter} ms after the kill (lease ${NODE_LEASE_MS} ms, grace ${AGENT_AWAY_GRACE_MS} ms)`)
    assert.equal(away.autoAway, true, 'made away by the broker: online again when it reconnects')
    assert.ok(awayAfter >= AGENT_AWAY_GRACE_MS, 'not before its grace period')
    assert.ok(awayAfter <= NODE_LEASE_MS + AGENT_AWAY_GRACE_MS + 3000, `away ${awayAfter} ms after the kill`)
    // it comes back online when it reconnects, to any node
    track(await join(b.mqttUrl, { uid: stranded.uid, token: stranded.token, role: 'agent' }))
    await waitFor(async () => (await agentStates(a.httpUrl, admin)).get('stranded-agent')?.status === 'online', 5000, 'online again')
  })

  it('keeps a user online while a connection on any node is up, and takes the users of a dead node offline', async (t) => {
    const user = await createUser(a.httpUrl, admin, 'roamer', 'user')
    const friend = await createUser(a.httpUrl, admin, 'friend', 'user')
    await createConversation(a.httpUrl, user.token, 'direct', [friend.uid])
    const watcher = track(await join(a.mqttUrl, friend))

    const onA = await join(a.mqttUrl, user)
    await waitFor(() => presenceOf(watcher, user.uid).at(-1)?.online === true, 5000, 'online')
    const onB = await join(b.mqttUrl, user)
    await sleep(SETTLE_MS)
    assert.deepEqual(presenceOf(watcher, user.uid), [{ online: true }], 'a second connection on another node says nothing')

    await onA.close()
    await sleep(SETTLE_MS)
    assert.deepEqual(presenceOf(watcher, user.uid), [{ online: true }], 'still connected on node B: still online')

    // A node joining the cluster must not reset those connected elsewhere to offline.
    const late = await startTestBroker(settings)
    try {
      await sleep(SETTLE_MS)
      assert.deepEqual(presenceOf(watcher, user.uid), [{ online: true }], 'a node that starts announces nobody offline')
    } finally { await late.stop() }

    await onB.close()
    await waitFor(() => presenceOf(watcher, user.uid).at(-1)?.online === false, 5000, 'offline once the last connection went')

    // A node that dies: its users go offline once its lease runs out.
    const c = await spawnBroker(Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)])))
    spawned.push(c)
    const onC = track(await join(c.mqttUrl, user))
    await waitFor(() => presenceOf(watcher, user.uid).at(-1)?.online === true, 5000, 'online on node C')
    const killedAt = Date.now()
    await c.kill('SIGKILL')
    await waitFor(() => presenceOf(watcher, user.uid).at(-1)?.online === false, NODE_LEASE_MS + 5000, 'offline after node C died')
    const offlineAfter = Date.now() - killedAt
    t.diagnostic(`offline ${offlineAfter} ms after the kill (NODE_LEASE_MS ${NODE_LEASE_MS})`)
    assert.ok(offlineAfter <= NODE_LEASE_MS + 3000, `offline ${offlineAfter} ms after the kill`)
    void onC
  })
})
