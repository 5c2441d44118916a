/**
 * The support desk: opening a chat, the queue, assignment, claim, transfer, close and rating.
 * Every change of who owns a chat runs under one lock, so two agents racing for a chat, or an
 * agent going away during assignment, always leave exactly one owner for an active chat.
 * (The embedded store is single-node; a shared store would use atomic conditional updates.)
 * [IM-SUPPORT-1]
 */
import { randomBytes } from 'node:crypto'
import { ImError } from '../../shared/errors.js'
import type { AgentState, AgentStatus, CloseReason, Conversation, VisitorContext } from '../../shared/protocol.js'
import type { Caller } from '../im/conversations.js'
import type { EventPublisher } from '../im/events.js'
import { KeyedLock } from '../lib/keyed-lock.js'
import type { ConversationStore, PrincipalStore, SupportStore } from '../store/ports.js'
import type { Announcer } from './announcer.js'
import { noticeText } from './notices.js'
import { hasRoom, pickAgent } from './routing.js'

export interface DeskDeps {
  conversations: ConversationStore
  support: SupportStore
  principals: PrincipalStore
  events: EventPublisher
  announcer: Announcer
  defaultCapacity: number
  /** false outside business hours: visitors are told no agent is available */
  isOpen: (now: number) => boolean
  now: () => number
}

const ROUTING = 'routing'

export class SupportDesk {
  readonly #deps: DeskDeps
  readonly #lock = new KeyedLock()
  /** the last `queuedAt` given out: the queue is ordered by it, so it must grow strictly */
  #lastQueuedAt = 0

  constructor (deps: DeskDeps) {
    this.#deps = deps
  }

  /** A visitor's open chat on its site, or a new one in the queue. [IM-SUPPORT-OPEN] */
  async open (caller: Caller, context: VisitorContext = {}): Promise<{ conv: Conversation, created: boolean }> {
    if (caller.role !== 'visitor') throw new ImError('IM_ERR_FORBIDDEN', 'Only visitors open support chats.')
    const principal = await this.#deps.principals.get(caller.uid)
    if (!principal?.site) throw new ImError('IM_ERR_FORBIDDEN', 'This visitor has no site.')
    const site = principal.site
    const { conv, created } = await this.#lock.run(ROUTING, async () => {
      const existing = await this.#deps.support.openFor(site, caller.uid)
      const open = existing ? await this.#deps.conversations.get(existing) : undefined
      if (open?.support && open.support.state !== 'closed') return { conv: open, created: false }
      const now = this.#deps.now()
      // Two chats opened in the same millisecond still queue in the order they arrived.
      const queuedAt = this.#lastQueuedAt = Math.max(now, this.#lastQueuedAt + 1)
      const fresh: Conversation = {
        cid: `s_${randomBytes(12).toString('base64url')}`,
        kind: 'support',
        members: [{ uid: caller.uid, role: 'member', joinedAt: now, readSeq: 0 }],
        createdAt: now,
        createdBy: caller.uid,
        lastSeq: 0,
        support: { site, visitor: caller.uid, state: 'waiting', context: { ...context, ...(principal.name && !context.name ? { name: principal.name } : {}) }, queuedAt }
      }
      await this.#deps.conversations.create(fresh)
      await this.#deps.support.indexOpen(fresh)
      await this.#deps.support.setSeen(caller.uid, now)
      return { conv: fresh, created: true }
    })
    if (created) {
      await this.#deps.events.toInbox(caller.uid, { ev: 'conv', type: 'created', conv })
      const anyone = (await this.#deps.support.listAgents()).some((a) => a.status === 'online')
      const code = anyone && this.#deps.isOpen(this.#deps.now()) ? 'queued' : 'offline'
      await this.#deps.events.toInbox(caller.uid, { ev: 'notice', cid: conv.cid, code, text: noticeText(code, conv.support?.context.locale) })
      await this.rebalance()
    }
    return { conv, created }
  }

  /** Assigns waiting chats, oldest first, while an online agent has room. */
  async rebalance (): Promise<void> {
    const assigned = await this.#lock.run(ROUTING, async () => {
      const done: Array<{ conv: Conversation, agent: string }> = []
      const agents = await this.#deps.support.listAgents()
      for (const conv of await this.#waiting()) {
        const agent = pickAgent(agents)
        if (!agent) break
        done.push({ conv: await this.#assign(conv, agent), agent: agent.uid })
      }
      return done
    })
    for (const { conv, agent } of assigned) await this.#announceAssigned(conv, agent)
    await this.#deps.announcer.queueChanged()
  }

  /** An agent takes a waiting chat itself; of many racing claims exactly one wins. [IM-SUPPORT-CLAIM] */
  async claim (caller: Caller, cid: string): Promise<Conversation> {
    this.#requireAgent(caller)
    const conv = await this.#lock.run(ROUTING, async () => {
      const current = await this.#supportConv(cid)
      if (current.support!.state === 'closed') throw new ImError('IM_ERR_CONVERSATION_CLOSED')
      if (current.support!.state === 'active') throw new ImError('IM_ERR_ALREADY_ASSIGNED')
      const agent = await this.agent(caller.uid)
      if (!hasRoom(agent)) throw new ImError('IM_ERR_AGENT_FULL')
      return await this.#assign(current, agent)
    })
    await this.#announceAssigned(conv, caller.uid)
    await this.#deps.announcer.queueChanged()
    return conv
  }

  /** To another agent, or back to the head of the queue when `to` is absent. [IM-SUPPORT-TRANSFER] */
  async transfer (caller: Caller, cid: string, to?: string): Promise<Conversation> {
    this.#requireAgent(caller)
    const { conv, from } = await this.#lock.run(ROUTING, async () => {
      const current = await this.#supportConv(cid)
      const support = current.support!
      if (support.state === 'closed') throw new ImError('IM_ERR_CONVERSATION_CLOSED')
      if (support.agent !== caller.uid && caller.role !== 'admin') throw new ImError('IM_ERR_FORBIDDEN', 'Only the chat\'s agent may transfer it.')
      // Not a transfer; it would also put the cid twice in the agent's `active` list (two slots).
      if (to !== undefined && to === support.agent) throw new ImError('IM_ERR_BAD_REQUEST', `The chat is with ${to} already.`)
      const target = to === undefined ? undefined : await this.agent(to, false)
      if (to !== undefined && (!target || target.status === 'offline')) throw new ImError('IM_ERR_NOT_FOUND', `No agent ${to} is available.`)
      if (target && !hasRoom(target)) throw new ImError('IM_ERR_AGENT_FULL')
      const previous = support.agent
      if (previous) await this.#release(previous, cid)
      if (target) return { conv: await this.#assign(current, target, previous), from: previous }
      // Back to the head of the queue: the queue is ordered by `queuedAt`, so the chat takes a
      // place just before the oldest waiting one (its own, when that is older still).
      const head = (await this.#waiting())[0]?.support?.queuedAt
      const queuedAt = head === undefined ? support.queuedAt : Math.min(support.queuedAt, head - 1)
      const queued = await this.#deps.conversations.update(cid, (c) => ({
        ...c,
        members: c.members.filter((m) => m.uid !== previous),
        support: { ...c.support!, state: 'waiting', agent: undefined, agentName: undefined, assignedAt: undefined, queuedAt }
      }))
      await this.#deps.support.indexOpen(queued)
      return { conv: queued, from: previous }
    })
    const told = new Set([conv.support!.visitor, ...(from ? [from] : []), ...(conv.support!.agent ? [conv.support!.agent] : [])])
    await this.#deps.events.toInboxes(told, { ev: 'conv', type: 'transferred', conv, ...(from ? { uid: from } : {}) })
    if (!to) await this.rebalance()
    else await this.#deps.announcer.queueChanged()
    return conv
  }

  /** Ends a chat; the agent's slot goes to the next waiting visitor at once. [IM-SUPPORT-CLOSE] */
  async close (caller: Caller | 'system', cid: string, reason: CloseReason): Promise<Conversation> {
    const { conv, changed } = await this.#lock.run(ROUTING, async () => {
      const current = await this.#supportConv(cid)
      const support = current.support!
      if (support.state === 'closed') return { conv: current, changed: false }
      if (caller !== 'system') {
        const allowed = caller.uid === support.visitor || caller.uid === support.agent || caller.role === 'admin'
        if (!allowed) throw new ImError('IM_ERR_FORBIDDEN', 'Only the visitor or the chat\'s agent may close it.')
      }
      if (support.agent) await this.#release(support.agent, cid)
      const closed = await this.#deps.conversations.update(cid, (c) => ({ ...c, support: { ...c.support!, state: 'closed', closedAt: this.#deps.now(), closedReason: reason } }))
      await this.#deps.support.indexOpen(closed)
      return { conv: closed, changed: true }
    })
    if (!changed) return conv // closed already (e.g. the visitor and idle release raced): said once
    await this.#deps.events.toInboxes(conv.members.map((m) => m.uid), { ev: 'conv', type: 'closed', conv })
    await this.rebalance()
    return conv
  }

  async rate (caller: Caller, cid: string, score: number, comment?: string): Promise<Conversation> {
    const current = await this.#supportConv(cid)
    if (current.support!.visitor !== caller.uid) throw new ImError('IM_ERR_FORBIDDEN', 'Only the visitor rates a chat.')
    if (current.support!.state !== 'closed') throw new ImError('IM_ERR_BAD_REQUEST', 'A chat is rated after it is closed.')
    const rated = await this.#deps.conversations.update(cid, (c) => ({ ...c, support: { ...c.support!, rating: { score, ...(comment ? { comment } : {}) } } }))
    await this.#deps.events.toInboxes(rated.members.map((m) => m.uid), { ev: 'conv', type: 'rated', conv: rated })
    return rated
  }

  /** An agent's state; created on first use with the default capacity. */
  async agent (uid: string, create = true): Promise<AgentState> {
    const stored = await this.#deps.support.getAgent(uid)
    if (stored || !create) return stored as AgentState
    return { uid, status: 'offline', capacity: this.#deps.defaultCapacity, active: [], idleSince: this.#deps.now() }
  }

  async setStatus (caller: Caller, status: AgentStatus, capacity?: number): Promise<AgentState> {
    this.#requireAgent(caller)
    const agent = await this.#lock.run(ROUTING, async () => {
      const next: AgentState = { ...await this.agent(caller.uid), status, ...(capacity !== undefined ? { capacity } : {}) }
      if (status === 'online') delete next.disconnectedAt
      await this.#deps.support.putAgent(next)
      return next
    })
    await this.#deps.events.toInbox(caller.uid, { ev: 'agent', agent })
    await this.rebalance()
    return agent
  }

  /** Used by the sweeper: change an agent's record under the routing lock. */
  async updateAgent (uid: string, change: (agent: AgentState) => AgentState | undefined): Promise<AgentState | undefined> {
    return await this.#lock.run(ROUTING, async () => {
      const next = change(await this.agent(uid))
      if (next) await this.#deps.support.putAgent(next)
      return next
    })
  }

  async #waiting (): Promise<Conversation[]> {
    const convs = await Promise.all((await this.#deps.support.openCids()).map(async (cid) => await this.#deps.conversations.get(cid)))
    return convs.filter((c): c is Conversation => c?.support?.state === 'waiting')
  }

  /** Under the lock: the chat becomes active with `agent` as its one owner. */
  async #assign (conv: Conversation, agent: AgentState, previous?: string): Promise<Conversation> {
    const now = this.#deps.now()
    await this.#deps.support.putAgent({ ...agent, active: [...agent.active, conv.cid], idleSince: now })
    // keep the caller's snapshot in step for the next pick of the same pass
    agent.active.push(conv.cid)
    agent.idleSince = now
    const agentName = (await this.#deps.principals.get(agent.uid))?.name
    const next = await this.#deps.conversations.update(conv.cid, (c) => ({
      ...c,
      members: [...c.members.filter((m) => m.uid !== previous && m.uid !== agent.uid), { uid: agent.uid, role: 'member', joinedAt: now, readSeq: 0 }],
      support: { ...c.support!, state: 'active', agent: agent.uid, agentName, assignedAt: now }
    }))
    await this.#deps.support.indexOpen(next)
    return next
  }

  async #release (uid: string, cid: string): Promise<void> {
    const agent = await this.#deps.support.getAgent(uid)
    if (agent) await this.#deps.support.putAgent({ ...agent, active: agent.active.filter((c) => c !== cid), idleSince: this.#deps.now() })
  }

  async #announceAssigned (conv: Conversation, agent: string): Promise<void> {
    const visitor = conv.support!.visitor
    await this.#deps.events.toInboxes([visitor, agent], { ev: 'conv', type: 'assigned', conv, uid: agent })
    await this.#deps.events.toInbox(visitor, { ev: 'notice', cid: conv.cid, code: 'assigned', text: noticeText('assigned', conv.support!.context.locale) })
  }

  async #supportConv (cid: string): Promise<Conversation> {
    const conv = await this.#deps.conversations.get(cid)
    if (!conv?.support) throw new ImError('IM_ERR_NOT_FOUND', 'No such support conversation.')
    return conv
  }

  #requireAgent (caller: Caller): void {
    if (caller.role !== 'agent' && caller.role !== 'admin') throw new ImError('IM_ERR_FORBIDDEN', 'Only agents do that.')
  }
}
