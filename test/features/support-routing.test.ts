/**
 * Support routing, with real MQTT.js clients over real sockets: the FIFO queue and agent
 * capacity, least-busy routing with ties to the longest idle, queue positions, transfer (to an
 * agent, and back to the head of the queue), and the one-owner rule when claims race and agents
 * go offline during assignment. [IM-SUPPORT-ROUTE], [IM-SUPPORT-CLAIM], [IM-SUPPORT-TRANSFER]
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { ConvEvent, ErrorEvent, SupportQueueEvent } from '../../shared/protocol.js'
import { api } from '../helpers/http.js'
import type { Participant } from '../helpers/im.js'
import { sleep, waitFor } from '../helpers/mqtt.js'
import { agentStates, assertOneOwner, DeskFixture, lastQueue, nextAfter, openChat, setStatus, waitPosition } from '../helpers/support.js'

/** The cids a participant was told were assigned, in order. */
const assigned = (p: Participant): string[] =>
  p.events.filter((e): e is ConvEvent => e.ev === 'conv' && e.type === 'assigned').map((e) => e.conv.cid)
const lastSnapshot = (p: Participant): string[] | undefined =>
  p.events.filter((e): e is SupportQueueEvent => e.ev === 'support-queue').at(-1)?.waiting.map((w) => w.cid)
const closedEvent = async (p: Participant, cid: string): Promise<ConvEvent> =>
  await p.next('conv', (e) => e.type === 'closed' && e.conv.cid === cid)
const text = (cid: string, cmid: string, body: string): Record<string, unknown> => ({ op: 'send', cmid, cid, type: 'text', body: { text: body } })

describe('support routing', () => {
  let desk: DeskFixture
  beforeEach(async () => { desk = await DeskFixture.start() })
  afterEach(async () => { await desk.stop() })

  /** Opens chats one after another, a few ms apart, so each has its own `queuedAt`. */
  const queue = async (n: number): Promise<Array<{ v: Participant, cid: string }>> => {
    const chats = []
    for (let i = 0; i < n; i++) {
      chats.push(await desk.queued())
      await sleep(3)
    }
    return chats
  }

  /** Which of `agents` got `cid`. */
  const ownerOf = async (cid: string, agents: Participant[]): Promise<string> =>
    (await waitFor(() => agents.find((a) => assigned(a).includes(cid)), 5000, `an agent for ${cid}`)).uid

  it('queues chats FIFO while nobody is free, fills agents up to their capacity, and gives a freed slot to the head of the queue at once', async () => {
    const chats = await queue(4)
    const [c1, c2, c3, c4] = chats.map((c) => c.cid) as [string, string, string, string]
    for (const [i, { v, cid }] of chats.entries()) {
      assert.equal((await v.next('notice', (e) => e.cid === cid)).code, 'offline', 'no agent online yet')
      await waitPosition(v, cid, i + 1)
    }

    // An agent with two slots takes the two oldest chats, in order, and no more.
    const a1 = await desk.agent('agent-a1', 2)
    await waitFor(() => assigned(a1).length === 2, 5000, 'two assignments')
    assert.deepEqual(assigned(a1), [c1, c2])
    assert.equal((await chats[0]!.v.next('notice', (e) => e.code === 'assigned')).cid, c1)
    await waitPosition(chats[2]!.v, c3, 1)
    await waitPosition(chats[3]!.v, c4, 2)

    const a2 = await desk.agent('agent-a2', 1)
    await a2.next('conv', (e) => e.type === 'assigned' && e.conv.cid === c3)
    await waitPosition(chats[3]!.v, c4, 1)

    // Everyone is full: a new visitor waits behind c4 and is told an agent will come.
    const { v: v5, cid: c5 } = await desk.queued()
    assert.equal((await v5.next('notice', (e) => e.cid === c5)).code, 'queued')
    await waitPosition(v5, c5, 2)
    assert.deepEqual(assigned(a1), [c1, c2], 'an agent at capacity gets no more')
    assert.deepEqual(assigned(a2), [c3])
    let states = await agentStates(desk.http, desk.admin)
    assert.deepEqual(states.get('agent-a1')?.active, [c1, c2])
    assert.deepEqual(states.get('agent-a2')?.active, [c3])

    // A slot frees (the agent closes): the head of the queue goes there at once.
    await a2.command({ op: 'support.close', cid: c3 })
    assert.equal((await closedEvent(chats[2]!.v, c3)).conv.support?.closedReason, 'agent')
    await a2.next('conv', (e) => e.type === 'assigned' && e.conv.cid === c4)
    await waitPosition(v5, c5, 1)
    // …and when a visitor closes, the same.
    await chats[0]!.v.command({ op: 'support.close', cid: c1 })
    assert.equal((await closedEvent(a1, c1)).conv.support?.closedReason, 'visitor')
    await a1.next('conv', (e) => e.type === 'assigned' && e.conv.cid === c5)
    await v5.next('conv', (e) => e.type === 'assigned' && e.conv.cid === c5)

    states = await agentStates(desk.http, desk.admin)
    assert.deepEqual(states.get('agent-a1')?.active, [c2, c5])
    assert.deepEqual(states.get('agent-a2')?.active, [c4])
    await assertOneOwner(desk.http, desk.admin, [c1, c2, c3, c4, c5])
  })

  it('routes each chat to the online agent with the fewest active chats; ties go to the one idle longest', async () => {
    const away = await desk.agent('agent-w', 3, 'away') // idle longest of all, but not online
    await sleep(5)
    const x = await desk.agent('agent-x', 3)
    await sleep(5)
    const y = await desk.agent('agent-y', 3)
    await sleep(5)
    const z = await desk.agent('agent-z', 3)
    await sleep(5)
    const agents = [away, x, y, z]
    const route = async (): Promise<{ cid: string, owner: string }> => {
      const { cid } = await desk.queued()
      const owner = await ownerOf(cid, agents)
      await sleep(5)
      return { cid, owner }
    }

    const c1 = await route()
    assert.equal(c1.owner, 'agent-x', 'all free: the one online longest without a chat')
    const c2 = await route()
    assert.equal(c2.owner, 'agent-y')
    const c3 = await route()
    assert.equal(c3.owner, 'agent-z')
    const c4 = await route()
    assert.equal(c4.owner, 'agent-x', 'one chat each: x has had its chat longest')

    // x frees a slot and so becomes the most recently idle: the next tie goes to y.
    await x.command({ op: 'support.close', cid: c1.cid })
    await closedEvent(x, c1.cid)
    await sleep(5)
    const c5 = await route()
    assert.equal(c5.owner, 'agent-y')

    // z frees its only chat: fewest chats wins although z is now the most recently idle.
    await z.command({ op: 'support.close', cid: c3.cid })
    await closedEvent(z, c3.cid)
    await sleep(5)
    const c6 = await route()
    assert.equal(c6.owner, 'agent-z')

    assert.deepEqual(assigned(away), [], 'an away agent is never routed to')
    const states = await agentStates(desk.http, desk.admin)
    assert.deepEqual(states.get('agent-x')?.active, [c4.cid])
    assert.deepEqual(states.get('agent-y')?.active, [c2.cid, c5.cid])
    assert.deepEqual(states.get('agent-z')?.active, [c6.cid])
    await assertOneOwner(desk.http, desk.admin, [c1, c2, c3, c4, c5, c6].map((c) => c.cid))
  })

  it('tells waiting visitors their queue position and updates it as chats ahead are closed or assigned', async () => {
    const watcher = await desk.agent('agent-w', 1, 'away') // sees the queue, takes nothing yet
    const chats = await queue(4)
    const [c1, c2, c3, c4] = chats.map((c) => c.cid) as [string, string, string, string]
    const [v1, v2, v3, v4] = chats.map((c) => c.v) as [Participant, Participant, Participant, Participant]
    for (const [i, { v, cid }] of chats.entries()) {
      const q = await waitPosition(v, cid, i + 1)
      assert.equal(q.waiting, i + 1, 'the queue length when the position was given')
    }
    await waitFor(() => lastSnapshot(watcher)?.length === 4, 5000, 'the agent sees four waiting')
    assert.deepEqual(lastSnapshot(watcher), [c1, c2, c3, c4])

    // The second visitor gives up: those behind it move up, the first stays first.
    await v2.command({ op: 'support.close', cid: c2 })
    assert.equal((await closedEvent(v2, c2)).conv.support?.closedReason, 'visitor')
    assert.deepEqual([(await waitPosition(v3, c3, 2)).waiting, (await waitPosition(v4, c4, 3)).waiting], [3, 3])
    assert.equal(lastQueue(v1, c1)?.position, 1)
    await waitFor(() => lastSnapshot(watcher)?.length === 3, 5000, 'the agent sees three waiting')
    assert.deepEqual(lastSnapshot(watcher), [c1, c3, c4])

    // The agent comes online: the head is assigned, the rest move up.
    await setStatus(watcher, 'online')
    await v1.next('conv', (e) => e.type === 'assigned' && e.conv.cid === c1)
    assert.equal((await waitPosition(v3, c3, 1)).waiting, 2)
    assert.equal((await waitPosition(v4, c4, 2)).waiting, 2)

    // Its chat closes: the next head is assigned and the last visitor is first.
    await watcher.command({ op: 'support.close', cid: c1 })
    await v3.next('conv', (e) => e.type === 'assigned' && e.conv.cid === c3)
    assert.equal((await waitPosition(v4, c4, 1)).waiting, 1)
    await waitFor(() => lastSnapshot(watcher)?.length === 1, 5000, 'the agent sees one waiting')
    assert.deepEqual(lastSnapshot(watcher), [c4])
    const queueApi = await api(desk.http, 'GET', '/api/v1/support/queue', undefined, watcher.token)
    assert.deepEqual(queueApi.body.waiting.map((c: { cid: string }) => c.cid), [c4])
  })

  it('transfers a chat to another agent: the membership moves and visitor and both agents are told', async () => {
    const a = await desk.agent('agent-a', 2)
    await sleep(5)
    const b = await desk.agent('agent-b', 2)
    const { v, cid } = await desk.queued()
    await a.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)
    await a.command(text(cid, 'a-hello', 'Hello, I am A'))
    await v.next('msg', (e) => e.msg.cmid === 'a-hello')

    await a.command({ op: 'support.transfer', cid, to: 'agent-b' })
    for (const p of [v, a, b]) {
      const told = await p.next('conv', (e) => e.type === 'transferred' && e.conv.cid === cid)
      assert.equal(told.uid, 'agent-a', 'from whom')
      assert.equal(told.conv.support?.agent, 'agent-b')
      assert.equal(told.conv.support?.state, 'active')
      assert.deepEqual(told.conv.members.map((m) => m.uid).sort(), [v.uid, 'agent-b'].sort())
    }

    // The old agent can no longer write; the new one can, and reads what came before.
    await a.command(text(cid, 'a-late', 'still here?'))
    const refused = await a.next('error', (e) => e.cmid === 'a-late')
    assert.equal(refused.code, 'IM_ERR_NOT_MEMBER')
    await b.command(text(cid, 'b-hello', 'B here, I take over'))
    await v.next('msg', (e) => e.msg.cmid === 'b-hello')
    await v.command(text(cid, 'v-thanks', 'thanks'))
    await b.next('msg', (e) => e.msg.cmid === 'v-thanks')
    // The answer to another write of the old agent comes after anything sent to it before.
    await a.command(text(cid, 'a-later', 'hello?'))
    await a.next('error', (e) => e.cmid === 'a-later')
    assert.equal(a.events.some((e) => e.ev === 'msg' && (e.msg.cmid === 'v-thanks' || e.msg.cmid === 'b-hello')), false, 'the old agent gets nothing new')
    let states = await agentStates(desk.http, desk.admin)
    assert.deepEqual(states.get('agent-a')?.active, [])
    assert.deepEqual(states.get('agent-b')?.active, [cid])
    await assertOneOwner(desk.http, desk.admin, [cid])

    // Back to the queue: routing gives it to the free agent idle longest (a, freed first).
    const mark = b.events.length
    await b.command({ op: 'support.transfer', cid })
    const back = await nextAfter(b, mark, 'conv', (e) => e.type === 'transferred' && e.conv.cid === cid)
    assert.equal(back.uid, 'agent-b')
    assert.equal(back.conv.support?.state, 'waiting')
    assert.equal(back.conv.support?.agent, undefined)
    assert.ok(!back.conv.members.some((m) => m.uid === 'agent-b'))
    await a.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)
    await v.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid && e.uid === 'agent-a')
    states = await agentStates(desk.http, desk.admin)
    assert.deepEqual(states.get('agent-a')?.active, [cid])
    assert.deepEqual(states.get('agent-b')?.active, [])
    await assertOneOwner(desk.http, desk.admin, [cid])
  })

  it('puts a chat transferred back to the queue at its head, before older waiting chats', async () => {
    const chats = await queue(3)
    const [c1, c2, c3] = chats.map((c) => c.cid) as [string, string, string]
    const [v1, v2, v3] = chats.map((c) => c.v) as [Participant, Participant, Participant]
    await waitPosition(v3, c3, 3)
    // An away agent is not routed to, but may take a chat out of order.
    const a = await desk.agent('agent-a', 1, 'away')
    await a.command({ op: 'support.claim', cid: c3 })
    await v3.next('conv', (e) => e.type === 'assigned' && e.conv.cid === c3)
    await a.command(text(c3, 'a-1', 'let me check with a colleague'))
    await v3.next('msg', (e) => e.msg.cmid === 'a-1')

    await a.command({ op: 'support.transfer', cid: c3 })
    await v3.next('conv', (e) => e.type === 'transferred' && e.conv.cid === c3)
    // [IM-SUPPORT-TRANSFER] "without `to` it goes back to the head of the queue"
    await waitPosition(v3, c3, 1)
    await waitPosition(v1, c1, 2)
    await waitPosition(v2, c2, 3)

    const b = await desk.agent('agent-b', 1)
    await b.next('conv', (e) => e.type === 'assigned')
    assert.deepEqual(assigned(b), [c3], 'the head of the queue is assigned first')
    await assertOneOwner(desk.http, desk.admin, [c1, c2, c3])
  })

  it('of eight agents claiming one chat at the same moment, exactly one gets it, again and again', async () => {
    const agents = await Promise.all(Array.from({ length: 8 }, async (_, i) => await desk.agent(`claimer-${i}`, 8, 'away')))
    const cids: string[] = []
    for (let round = 0; round < 5; round++) {
      const { v, cid } = await desk.queued()
      cids.push(cid)
      await waitPosition(v, cid, 1)
      const marks = agents.map((a) => a.events.length)
      await Promise.all(agents.map(async (a) => { await a.command({ op: 'support.claim', cid }) }))
      const outcomes = await Promise.all(agents.map(async (a, i) => await waitFor(() => a.events.slice(marks[i]).find((e) =>
        (e.ev === 'conv' && e.type === 'assigned' && e.conv.cid === cid) || (e.ev === 'error' && e.op === 'support.claim')), 5000, `${a.uid}'s answer`)))
      const winners = agents.filter((_, i) => outcomes[i]!.ev === 'conv')
      assert.equal(winners.length, 1, `round ${round}: one winner, not ${winners.length}`)
      const losers = outcomes.filter((o): o is ErrorEvent => o.ev === 'error')
      assert.equal(losers.length, 7)
      for (const l of losers) assert.equal(l.code, 'IM_ERR_ALREADY_ASSIGNED')
      const owners = await assertOneOwner(desk.http, desk.admin, cids)
      assert.equal(owners.get(cid), winners[0]!.uid)
      const holding = [...(await agentStates(desk.http, desk.admin)).values()].filter((s) => s.active.includes(cid))
      assert.deepEqual(holding.map((s) => s.uid), [winners[0]!.uid], 'the cid is in exactly one active list')
      await v.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid && e.uid === winners[0]!.uid)
    }
  })

  it('never leaves an active chat with no owner or two when agents go offline while chats are being assigned', async () => {
    const a = await desk.agent('agent-a', 20)
    const b = await desk.agent('agent-b', 20)
    const visitors = await Promise.all(Array.from({ length: 16 }, async () => await desk.visitor()))
    const cids: string[] = []
    const toggles = (first: 'online' | 'offline'): Array<Record<string, unknown>> =>
      [first, first === 'online' ? 'offline' : 'online', first].map((status) => ({ op: 'agent.status', status }))
    for (let round = 0; round < visitors.length / 2; round++) {
      const [v1, v2] = [visitors[2 * round]!, visitors[2 * round + 1]!]
      // Two chats open (over HTTP and MQTT) while both agents flip between offline and online.
      const [opened] = await Promise.all([
        openChat(desk.http, v1),
        v2.command({ op: 'support.open' }),
        ...toggles(round % 2 === 0 ? 'offline' : 'online').map(async (c) => { await a.command(c) }),
        ...toggles(round % 3 === 0 ? 'online' : 'offline').map(async (c) => { await b.command(c) })
      ])
      cids.push(opened.conv.cid, (await v2.next('conv', (e) => e.type === 'created')).conv.cid)
      await assertOneOwner(desk.http, desk.admin, cids)
    }
    // Once both are online, nothing is left waiting and each chat still has one owner.
    await Promise.all([setStatus(a, 'online'), setStatus(b, 'online')])
    for (const v of visitors) await v.next('conv', (e) => e.type === 'assigned')
    const owners = await assertOneOwner(desk.http, desk.admin, cids)
    assert.deepEqual(cids.filter((cid) => owners.get(cid) === undefined), [], 'every chat is assigned')
    const held = [...(await agentStates(desk.http, desk.admin)).values()].flatMap((s) => s.active)
    assert.deepEqual(held.sort(), [...cids].sort(), 'each chat in exactly one active list')
  })
})
