/**
 * Customer-service test helpers: visitors and their chats, agents on duty, the one-owner
 * invariant of assignment, and a child-process broker that is killed and restarted on one DATA_DIR.
 */
import assert from 'node:assert/strict'
import { connect, type IClientOptions } from 'mqtt'
import type { AgentState, AgentStatus, Conversation, QueueEvent, ServerEvent, VisitorContext } from '../../shared/protocol.js'
import { topics } from '../../shared/topics.js'
import type { ConfigInput } from '../../broker/config/schema.js'
import { startTestBroker, type TestBroker } from './broker.js'
import { adminToken, api, createUser, defaultSiteKey, type Principal } from './http.js'
import { join, participant, type Participant } from './im.js'
import { NO_RECONNECT, waitFor } from './mqtt.js'

type Ev<E extends ServerEvent['ev']> = Extract<ServerEvent, { ev: E }>

/** A fresh anonymous visitor of the site. */
export async function newVisitor (base: string, siteKey: string): Promise<Principal> {
  const res = await api(base, 'POST', '/api/v1/visitors', { siteKey })
  assert.equal(res.status, 200, `visitor identity: ${JSON.stringify(res.body)}`)
  return { uid: res.body.uid, token: res.body.token, role: 'visitor' }
}

/** `POST /api/v1/support/conversations` as the visitor. */
export async function openChat (base: string, visitor: { token: string }, context: VisitorContext = {}): Promise<{ status: number, conv: Conversation }> {
  const res = await api<Conversation>(base, 'POST', '/api/v1/support/conversations', { context }, visitor.token)
  assert.ok(res.status === 201 || res.status === 200, `open: ${res.status} ${JSON.stringify(res.body)}`)
  return { status: res.status, conv: res.body }
}

/** The first event of kind `ev` matching `match` among those received after index `from`. */
export async function nextAfter<E extends ServerEvent['ev']> (p: Participant, from: number, ev: E, match: (e: Ev<E>) => boolean = () => true, timeoutMs = 5000): Promise<Ev<E>> {
  return await waitFor(() => p.events.slice(from).find((e): e is Ev<E> => e.ev === ev && match(e as Ev<E>)), timeoutMs, `event ${ev} for ${p.uid}`)
}

/** Sets an agent's status (and capacity) with `agent.status` and waits for the `agent` answer. */
export async function setStatus (p: Participant, status: AgentStatus, capacity?: number): Promise<AgentState> {
  const from = p.events.length
  await p.command({ op: 'agent.status', status, ...(capacity === undefined ? {} : { capacity }) })
  const answer = await nextAfter(p, from, 'agent', (e) => e.agent.status === status && (capacity === undefined || e.agent.capacity === capacity))
  return answer.agent
}

/** An agent connected and set to `status` with `capacity` slots. */
export async function onDuty (url: string, agent: Principal, capacity: number, status: AgentStatus = 'online', options: IClientOptions = {}): Promise<Participant> {
  const p = await join(url, agent, undefined, true, options)
  await setStatus(p, status, capacity)
  return p
}

/** `GET /api/v1/agents` as a map by uid. */
export async function agentStates (base: string, token: string): Promise<Map<string, AgentState>> {
  const res = await api<{ agents: AgentState[] }>(base, 'GET', '/api/v1/agents', undefined, token)
  assert.equal(res.status, 200)
  return new Map(res.body.agents.map((a) => [a.uid, a]))
}

export async function conversation (base: string, token: string, cid: string): Promise<Conversation> {
  const res = await api<Conversation>(base, 'GET', `/api/v1/conversations/${cid}`, undefined, token)
  assert.equal(res.status, 200, `conversation ${cid}: ${JSON.stringify(res.body)}`)
  return res.body
}

/** The newest `queue` event a visitor got for its chat. */
export function lastQueue (p: Participant, cid: string): QueueEvent | undefined {
  return p.events.filter((e): e is QueueEvent => e.ev === 'queue' && e.cid === cid).at(-1)
}

/** Waits until the visitor's newest `queue` event for `cid` says `position`. */
export async function waitPosition (p: Participant, cid: string, position: number, timeoutMs = 5000): Promise<QueueEvent> {
  return await waitFor(() => { const q = lastQueue(p, cid); return q?.position === position ? q : undefined }, timeoutMs, `${p.uid} at queue position ${position} (last: ${JSON.stringify(lastQueue(p, cid))})`)
}

/**
 * The one-owner invariant, checked from the outside: an active chat has exactly one agent, that
 * agent is a member and the only agent whose `active` list holds it; a waiting or closed chat is
 * in nobody's list. Returns the owner of each chat (undefined when it has none).
 */
export async function assertOneOwner (base: string, token: string, cids: readonly string[]): Promise<Map<string, string | undefined>> {
  const agents = [...(await agentStates(base, token)).values()]
  const owners = new Map<string, string | undefined>()
  for (const cid of cids) {
    const conv = await conversation(base, token, cid)
    const holders = agents.filter((a) => a.active.includes(cid)).map((a) => a.uid)
    const agentMembers = conv.members.map((m) => m.uid).filter((uid) => uid !== conv.support!.visitor)
    if (conv.support!.state === 'active') {
      assert.ok(conv.support!.agent, `${cid} is active without an agent`)
      assert.deepEqual(holders, [conv.support!.agent], `${cid}: owned by ${conv.support!.agent}, held by [${holders.join(', ')}]`)
      assert.deepEqual(agentMembers, [conv.support!.agent], `${cid}: agent members [${agentMembers.join(', ')}]`)
    } else {
      assert.deepEqual(holders, [], `${cid} is ${conv.support!.state} but held by [${holders.join(', ')}]`)
      if (conv.support!.state === 'waiting') assert.equal(conv.support!.agent, undefined, `${cid} waits with an agent`)
    }
    owners.set(cid, conv.support!.state === 'active' ? conv.support!.agent : undefined)
  }
  for (const a of agents) assert.equal(new Set(a.active).size, a.active.length, `${a.uid} holds a chat twice: ${JSON.stringify(a.active)}`)
  return owners
}

/**
 * A participant on a persistent session whose inbox listener is in place before CONNACK, so the
 * events queued while it was away are all caught.
 */
export async function rejoin (url: string, who: Pick<Principal, 'uid' | 'token'>, clientId: string, options: IClientOptions = {}): Promise<Participant> {
  const client = connect(url, { ...NO_RECONNECT, username: who.uid, password: who.token, clientId, clean: false, ...options })
  const rejoined = participant(client, who)
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  await client.subscribeAsync(topics.inbox(who.uid), { qos: 1 })
  return rejoined
}

export class DeskFixture {
  readonly broker: TestBroker
  readonly admin: string
  readonly siteKey: string
  readonly #open: Participant[] = []

  private constructor (broker: TestBroker, admin: string, siteKey: string) {
    this.broker = broker
    this.admin = admin
    this.siteKey = siteKey
  }

  static async start (overrides: Partial<ConfigInput> = {}): Promise<DeskFixture> {
    const broker = await startTestBroker(overrides)
    const admin = await adminToken(broker.httpUrl)
    return new DeskFixture(broker, admin, await defaultSiteKey(broker.httpUrl, admin))
  }

  get http (): string { return this.broker.httpUrl }

  track (p: Participant): Participant {
    this.#open.push(p)
    return p
  }

  /** A new agent principal, connected and set to `status` with `capacity` slots. */
  async agent (uid: string, capacity: number, status: AgentStatus = 'online'): Promise<Participant> {
    const principal = await createUser(this.http, this.admin, uid, 'agent')
    return this.track(await onDuty(this.broker.mqttUrl, principal, capacity, status))
  }

  /** A new visitor, connected and listening on its inbox (no chat yet). */
  async visitor (options: IClientOptions = {}, clientId?: string, clean = true): Promise<Participant> {
    const principal = await newVisitor(this.http, this.siteKey)
    return this.track(await join(this.broker.mqttUrl, principal, clientId, clean, options))
  }

  /** A new connected visitor with a freshly opened chat. */
  async queued (context: VisitorContext = {}, options: IClientOptions = {}): Promise<{ v: Participant, cid: string }> {
    const v = await this.visitor(options)
    const { status, conv } = await openChat(this.http, v, context)
    assert.equal(status, 201)
    return { v, cid: conv.cid }
  }

  async stop (): Promise<void> {
    await Promise.all(this.#open.map(async (p) => { await p.close() }))
    await this.broker.stop()
  }
}
