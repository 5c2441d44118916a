/**
 * The support desk: opening a chat, the queue, assignment, claim, transfer, close and rating.
 * Who owns a chat is decided in the store by atomic operations (assignment.ts), so two agents
 * racing for a chat — on one node or on two — or an agent going away during assignment, always
 * leave exactly one owner for an active chat, and no agent above its capacity. A visitor has one
 * open chat per site, also when two of its tabs open one on two nodes at once. [IM-SUPPORT-1]
 * Routing follows the store's queue: chats whose visitor wrote first, so a flood of chats nobody
 * writes in cannot push a visitor who wrote behind them. [IM-SUPPORT-RANK]
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { ImError } from '../../shared/errors.js'
import type { AgentState, AgentStatus, CloseReason, Conversation, VisitorContext } from '../../shared/protocol.js'
import type { Caller } from '../im/conversations.js'
import type { EventPublisher } from '../im/events.js'
import { KeyedLock } from '../lib/keyed-lock.js'
import type { AgentPatch, ConversationStore, PrincipalStore, QueueEntry, SupportStore } from '../store/ports.js'
import { queueEntry, toRecord } from '../store/support-records.js'
import type { Announcer } from './announcer.js'
import { Assignments } from './assignment.js'
import { noticeText } from './notices.js'
import { headOf, waitingConversations } from './queue.js'
import { legacyChats, markWrote } from './ranking.js'
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
/** A visitor's place held by a chat not written yet (another node is creating it) is waited for this often, this long. */
const PLACE_WAIT_MS = 50
const PLACE_WAITS = 10
/** waiting chats routing reads at once */
const ROUTE_PAGE = 50

export class SupportDesk {
  readonly #deps: DeskDeps
  readonly #lock = new KeyedLock()
  readonly #assignments: Assignments
  /** the last `queuedAt` given out: the queue is ordered by it, so it must grow strictly */
  #lastQueuedAt = 0

  constructor (deps: DeskDeps) {
    this.#deps = deps
    this.#assignments = new Assignments(deps)
  }

  /** A visitor's open chat on its site, or a new one in the queue. [IM-SUPPORT-OPEN] */
  async open (caller: Caller, context: VisitorContext = {}): Promise<{ conv: Conversation, created: boolean }> {
    if (caller.role !== 'visitor') throw new ImError('IM_ERR_FORBIDDEN', 'Only visitors open support chats.')
    const principal = await this.#deps.principals.get(caller.uid)
    if (!principal?.site) throw new ImError('IM_ERR_FORBIDDEN', 'This visitor has no site.')
    const site = principal.site
    const { conv, created } = await this.#lock.run(`visitor:${site}!${caller.uid}`, async () => await this.#openOnce(site, caller.uid, principal.name, context))
    if (created) {
      await this.#deps.events.toInbox(caller.uid, { ev: 'conv', type: 'created', conv })
      const anyone = (await this.#deps.support.listAgents()).some((a) => a.status === 'online')
      const code = anyone && this.#deps.isOpen(this.#deps.now()) ? 'queued' : 'offline'
      await this.#deps.events.toInbox(caller.uid, { ev: 'notice', cid: conv.cid, code, text: noticeText(code, conv.support?.context.locale) })
      await this.rebalance()
    }
    return { conv, created }
  }

  /** Assigns waiting chats in queue order (visitors who wrote first) while an online agent has room. */
  async rebalance (): Promise<void> {
    const assigned = await this.#lock.run(ROUTING, async () => {
      const done: Array<{ conv: Conversation, agent: string }> = []
      let agents = await this.#deps.support.listAgents()
      let after: QueueEntry | undefined
      for (;;) {
        if (!pickAgent(agents)) return done // nobody free: no need to read the queue
        const page = await this.#deps.support.queue(ROUTE_PAGE, after)
        for (const conv of await waitingConversations(this.#deps.conversations, page)) {
          for (let tries = 0; tries < 3; tries++) {
            const agent = pickAgent(agents)
            if (!agent) return done
            const outcome = await this.#assignments.assign(conv, agent)
            if ('conv' in outcome) {
              done.push({ conv: outcome.conv, agent: agent.uid })
              // keep the snapshot in step for the next pick of the same pass
              agent.active.push(conv.cid)
              agent.idleSince = this.#deps.now()
              break
            }
            if (outcome.lost === 'taken') break // another node assigned it
            agents = await this.#deps.support.listAgents() // another node filled the agent: look again
          }
        }
        if (page.length < ROUTE_PAGE) return done
        after = page.at(-1) // assigned chats left the queue; the cursor is not moved by that
      }
    })
    for (const { conv, agent } of assigned) await this.#announceAssigned(conv, agent)
    await this.#deps.announcer.queueChanged()
  }

  /** An agent takes a waiting chat itself; of many racing claims exactly one wins. [IM-SUPPORT-CLAIM] */
  async claim (caller: Caller, cid: string): Promise<Conversation> {
    this.#requireAgent(caller)
    const conv = await this.#lock.run(`chat:${cid}`, async () => {
      const current = await this.#supportConv(cid)
      if (current.support!.state === 'closed') throw new ImError('IM_ERR_CONVERSATION_CLOSED')
      if (current.support!.state === 'active') throw new ImError('IM_ERR_ALREADY_ASSIGNED')
      const agent = await this.agent(caller.uid)
      if (!hasRoom(agent)) throw new ImError('IM_ERR_AGENT_FULL')
      await this.#deps.support.patchAgent(agent.uid, {}, toRecord(agent)) // an agent claiming before it set a status
      const outcome = await this.#assignments.assign(current, agent)
      if ('conv' in outcome) return outcome.conv
      throw new ImError(outcome.lost === 'full' ? 'IM_ERR_AGENT_FULL' : 'IM_ERR_ALREADY_ASSIGNED')
    })
    await this.#announceAssigned(conv, caller.uid)
    await this.#deps.announcer.queueChanged()
    return conv
  }

  /** To another agent, or back to the head of the queue when `to` is absent. [IM-SUPPORT-TRANSFER] */
  async transfer (caller: Caller, cid: string, to?: string): Promise<Conversation> {
    this.#requireAgent(caller)
    const { conv, from } = await this.#lock.run(`chat:${cid}`, async () => {
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
      if (target) return { conv: await this.#assignments.handOver(current, previous, target), from: previous }
      // Back to the head of the queue — of its group (visitors who wrote, or not): the groups are
      // ordered by `queuedAt`, so the chat takes a place just before the group's first one (its
      // own, when that is older still).
      const head = (await headOf(this.#deps.support, queueEntry(current).wrote))?.queuedAt
      const queuedAt = head === undefined ? support.queuedAt : Math.min(support.queuedAt, head - 1)
      return { conv: await this.#assignments.requeue(cid, previous, queuedAt), from: previous }
    })
    const told = new Set([conv.support!.visitor, ...(from ? [from] : []), ...(conv.support!.agent ? [conv.support!.agent] : [])])
    await this.#deps.events.toInboxes(told, { ev: 'conv', type: 'transferred', conv, ...(from ? { uid: from } : {}) })
    if (!to) await this.rebalance()
    else await this.#deps.announcer.queueChanged()
    return conv
  }

  /** Ends a chat; the agent's slot goes to the next waiting visitor at once. [IM-SUPPORT-CLOSE] */
  async close (caller: Caller | 'system', cid: string, reason: CloseReason): Promise<Conversation> {
    const { conv, changed } = await this.#lock.run(`chat:${cid}`, async () => {
      const current = await this.#supportConv(cid)
      const support = current.support!
      if (support.state === 'closed') return { conv: current, changed: false }
      if (caller !== 'system') {
        const allowed = caller.uid === support.visitor || caller.uid === support.agent || caller.role === 'admin'
        if (!allowed) throw new ImError('IM_ERR_FORBIDDEN', 'Only the visitor or the chat\'s agent may close it.')
      }
      let closedHere = false
      const closed = await this.#deps.conversations.update(cid, (c) => {
        if (c.support?.state === 'closed') return c // another node closed it first
        closedHere = true
        return { ...c, support: { ...c.support!, state: 'closed', closedAt: this.#deps.now(), closedReason: reason } }
      })
      await this.#assignments.closed(closed)
      await this.#deps.support.indexOpen(closed)
      return { conv: closed, changed: closedHere }
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
    const current = await this.agent(caller.uid)
    const patch: AgentPatch = { status, ...(capacity !== undefined ? { capacity } : {}), ...(status === 'online' ? { disconnectedAt: null } : {}) }
    await this.#deps.support.patchAgent(caller.uid, patch, toRecord(current))
    const agent = await this.agent(caller.uid)
    await this.#deps.events.toInbox(caller.uid, { ev: 'agent', agent })
    await this.rebalance()
    return agent
  }

  /**
   * The agent's principal was deleted: it goes offline and each chat it held goes back to the head
   * of the queue, for another agent — its visitors are not left with nobody, and an agent created
   * later under the same uid starts with no chats. [IM-AUTH-8]
   */
  async agentDeleted (uid: string): Promise<void> {
    const agent = await this.agent(uid, false)
    if (!agent) return
    await this.#deps.support.patchAgent(uid, { status: 'offline' })
    for (const cid of agent.active) {
      // a chat closed or moved meanwhile is no longer this agent's to give back
      await this.transfer({ uid, role: 'agent' }, cid).catch((err: unknown) => { if (!(err instanceof ImError)) throw err })
    }
  }

  /** Used by the sweeper: changes fields of a stored agent's record. */
  async patchAgent (uid: string, patch: AgentPatch): Promise<void> {
    await this.#deps.support.patchAgent(uid, patch)
  }

  /**
   * The visitor wrote in its chat for the first time: a waiting chat moves ahead of every chat
   * whose visitor has written nothing, and is routed in that order. [IM-SUPPORT-RANK]
   */
  async visitorWrote (cid: string, at: number): Promise<void> {
    if (await this.#lock.run(`chat:${cid}`, async () => await markWrote(this.#deps, cid, at))) await this.rebalance()
  }

  /** Frees claims and slots a node that died mid-way left behind, and ranks chats from before ranks (the leader's sweep). */
  async reconcile (): Promise<void> {
    await this.#assignments.reconcile()
    let moved = false
    for (const { conv, written } of await legacyChats(this.#deps)) {
      if (written) moved = await this.#lock.run(`chat:${conv.cid}`, async () => await markWrote(this.#deps, conv.cid, conv.support!.queuedAt)) || moved
      else await this.#deps.support.rank(conv)
    }
    if (moved) await this.rebalance()
  }

  /** The visitor's open chat, or a new one holding the visitor's place on the site. */
  async #openOnce (site: string, visitor: string, name: string | undefined, context: VisitorContext): Promise<{ conv: Conversation, created: boolean }> {
    const { support, conversations } = this.#deps
    for (let attempt = 0; attempt < 3 * PLACE_WAITS; attempt++) {
      const held = await support.openFor(site, visitor)
      if (held !== undefined) {
        const open = await conversations.get(held)
        if (open?.support && open.support.state !== 'closed') return { conv: open, created: false }
        // a place left by a chat that closed, or by one a node never wrote (it died): freed
        if (open !== undefined || attempt >= PLACE_WAITS) await support.releaseVisitor(site, visitor, held)
        else await sleep(PLACE_WAIT_MS) // another node is writing that chat now
        continue
      }
      const now = this.#deps.now()
      // Two chats opened in the same millisecond still queue in the order they arrived.
      const queuedAt = this.#lastQueuedAt = Math.max(now, this.#lastQueuedAt + 1)
      const fresh: Conversation = {
        cid: `s_${randomBytes(12).toString('base64url')}`,
        kind: 'support',
        members: [{ uid: visitor, role: 'member', joinedAt: now, readSeq: 0 }],
        createdAt: now,
        createdBy: visitor,
        lastSeq: 0,
        support: { site, visitor, state: 'waiting', context: { ...context, ...(name && !context.name ? { name } : {}) }, queuedAt }
      }
      if (await support.reserveVisitor(site, visitor, fresh.cid) !== fresh.cid) continue // another tab, maybe on another node, was first
      await conversations.create(fresh)
      await support.indexOpen(fresh)
      await support.setSeen(visitor, now)
      return { conv: fresh, created: true }
    }
    throw new ImError('IM_ERR_INTERNAL', 'The visitor\'s chat kept changing; try again.')
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
