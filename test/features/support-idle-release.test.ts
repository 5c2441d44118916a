/**
 * Idle release, with real MQTT.js clients over real sockets and a short IDLE_RELEASE_MS: a chat
 * whose visitor shows no traffic at all is closed (`idle`), the agent's slot goes to the next
 * visitor at once; keepalive pings alone keep a chat open; and a countdown interrupted by a
 * broker crash resumes after the restart without counting the downtime. [IM-SUPPORT-IDLE]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Conversation } from '../../shared/protocol.js'
import { adminToken, api, createUser, defaultSiteKey, type Principal } from '../helpers/http.js'
import { join, type Participant } from '../helpers/im.js'
import { sleep } from '../helpers/mqtt.js'
import { agentStates, conversation, DeskFixture, newVisitor, openChat, rejoin, setStatus, waitPosition } from '../helpers/support.js'
import { RestartableBroker } from '../helpers/broker.js'

const IDLE_RELEASE_MS = 1500
/** MQTT.js pings after `keepalive` seconds without other traffic: well inside IDLE_RELEASE_MS. */
const PINGING = { keepalive: 1 }

describe('support idle release', () => {
  let desk: DeskFixture
  before(async () => { desk = await DeskFixture.start({ IDLE_RELEASE_MS }) })
  after(async () => { await desk.stop() })

  it('closes the chat of a visitor whose connections are gone with reason idle, tells both sides, and gives the slot to the next visitor at once', async () => {
    const agent = await desk.agent('agent-idle', 1)
    const v1 = await desk.visitor({}, 'v1-tab', false) // a persistent session: it gets what it missed
    const { conv: c1 } = await openChat(desk.http, v1, { url: 'https://shop.example/' })
    await agent.next('conv', (e) => e.type === 'assigned' && e.conv.cid === c1.cid)
    const { v: v2, cid: c2 } = await desk.queued({}, PINGING)
    await waitPosition(v2, c2, 1)
    await v1.command({ op: 'send', cmid: 'v1-bye', cid: c1.cid, type: 'text', body: { text: 'brb' } })
    await agent.next('msg', (e) => e.msg.cmid === 'v1-bye')

    const gone = Date.now()
    await v1.close()
    const closed = await agent.next('conv', (e) => e.type === 'closed' && e.conv.cid === c1.cid, IDLE_RELEASE_MS + 5000)
    const releasedAfter = Date.now() - gone
    assert.equal(closed.conv.support?.closedReason, 'idle')
    assert.ok(releasedAfter >= IDLE_RELEASE_MS - 100, `released after ${releasedAfter} ms, before IDLE_RELEASE_MS`)

    // The freed slot goes to the waiting visitor without waiting for anything else.
    await agent.next('conv', (e) => e.type === 'assigned' && e.conv.cid === c2, 1000)
    await v2.next('notice', (e) => e.cid === c2 && e.code === 'assigned', 1000)
    assert.deepEqual((await agentStates(desk.http, desk.admin)).get('agent-idle')?.active, [c2])

    // The visitor, back on its session, is told too and sees the reason.
    const back = desk.track(await rejoin(desk.broker.mqttUrl, v1, 'v1-tab'))
    const told = await back.next('conv', (e) => e.type === 'closed' && e.conv.cid === c1.cid)
    assert.equal(told.conv.support?.closedReason, 'idle')
    const mine = await api<{ conversations: Conversation[] }>(desk.http, 'GET', '/api/v1/support/conversations', undefined, v1.token)
    assert.equal(mine.body.conversations.find((c) => c.cid === c1.cid)?.support?.state, 'closed')

    // The pinging visitor, silent otherwise, was not released meanwhile.
    assert.equal((await conversation(desk.http, desk.admin, c2)).support?.state, 'active')
    await v2.command({ op: 'support.close', cid: c2 })
    await agent.next('conv', (e) => e.type === 'closed' && e.conv.cid === c2)
    await setStatus(agent, 'offline')
  })

  it('keeps a chat open while only keepalive pings arrive, releases a connected but silent visitor, and releases the pinging one once it disconnects', async () => {
    const agent = await desk.agent('agent-ping', 2)
    const { v: pinging, cid: kept } = await desk.queued({}, PINGING)
    const { v: silent, cid: dropped } = await desk.queued({}, { keepalive: 60 })
    await agent.next('conv', (e) => e.type === 'assigned' && e.conv.cid === kept)
    await agent.next('conv', (e) => e.type === 'assigned' && e.conv.cid === dropped)

    await sleep(3 * IDLE_RELEASE_MS)
    // No traffic at all from a connection that is still open is no sign of life either.
    const silentClosed = await agent.next('conv', (e) => e.type === 'closed' && e.conv.cid === dropped, 10)
    assert.equal(silentClosed.conv.support?.closedReason, 'idle')
    await silent.next('conv', (e) => e.type === 'closed' && e.conv.cid === dropped)
    // Pings are: three timeouts later the chat is open.
    assert.ok(pinging.client.connected)
    assert.equal(agent.events.some((e) => e.ev === 'conv' && e.type === 'closed' && e.conv.cid === kept), false)
    assert.equal((await conversation(desk.http, desk.admin, kept)).support?.state, 'active')
    assert.deepEqual((await agentStates(desk.http, desk.admin)).get('agent-ping')?.active, [kept])

    const gone = Date.now()
    await pinging.close()
    const closed = await agent.next('conv', (e) => e.type === 'closed' && e.conv.cid === kept, IDLE_RELEASE_MS + 5000)
    assert.equal(closed.conv.support?.closedReason, 'idle')
    assert.ok(Date.now() - gone >= IDLE_RELEASE_MS - 100, 'not before the timeout')
    assert.deepEqual((await agentStates(desk.http, desk.admin)).get('agent-ping')?.active, [])
  })
})

describe('support idle release across a broker restart', () => {
  const RESTART_IDLE_MS = 3000
  const proc = new RestartableBroker({ IDLE_RELEASE_MS: String(RESTART_IDLE_MS) })
  const open: Participant[] = []
  after(async () => {
    await Promise.all(open.map(async (p) => { await p.close() }))
    await proc.dispose()
  })

  it('resumes the countdown after a kill -9 without counting the downtime: not closed at restart, closed with reason idle about the remaining time later', async () => {
    let broker = await proc.start()
    const admin = await adminToken(broker.httpUrl)
    const agent: Principal = await createUser(broker.httpUrl, admin, 'agent-restart', 'agent')
    const a = await join(broker.mqttUrl, agent)
    open.push(a)
    await setStatus(a, 'online', 1)
    const visitor = await newVisitor(broker.httpUrl, await defaultSiteKey(broker.httpUrl, admin))
    const v = await join(broker.mqttUrl, visitor)
    const { conv } = await openChat(broker.httpUrl, v)
    const cid = conv.cid
    await a.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)

    // The visitor leaves; a third of the countdown later the broker dies.
    await v.close()
    await sleep(RESTART_IDLE_MS / 3)
    await proc.kill('SIGKILL')
    await a.close()
    // Down for longer than what was left of the countdown: were downtime counted, the chat
    // would be overdue the moment the broker is back.
    await sleep(RESTART_IDLE_MS)
    broker = await proc.start()
    const restarted = Date.now()
    const back = await join(broker.mqttUrl, agent)
    open.push(back)
    assert.equal((await conversation(broker.httpUrl, agent.token, cid)).support?.state, 'active', 'open right after the restart')

    // Several sweeps later (a sweep runs every IDLE_RELEASE_MS / 10) it is still open…
    await sleep(RESTART_IDLE_MS / 3)
    assert.equal((await conversation(broker.httpUrl, agent.token, cid)).support?.state, 'active',
      `still open ${Date.now() - restarted} ms after the restart (about ${RESTART_IDLE_MS * 2 / 3} ms were left)`)
    assert.equal(back.events.some((e) => e.ev === 'conv' && e.type === 'closed'), false)

    // …and released once the rest of the countdown has passed.
    const closed = await back.next('conv', (e) => e.type === 'closed' && e.conv.cid === cid, RESTART_IDLE_MS + 6000)
    assert.equal(closed.conv.support?.closedReason, 'idle')
    const stored = await conversation(broker.httpUrl, agent.token, cid)
    assert.equal(stored.support?.state, 'closed')
    assert.equal(stored.support?.closedReason, 'idle')
    const me = await api(broker.httpUrl, 'GET', '/api/v1/agents/me', undefined, agent.token)
    assert.deepEqual(me.body.active, [], 'the slot is free again')
  })
})
