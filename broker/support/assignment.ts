/**
 * Who owns a support chat, decided in the store so that it holds across broker nodes: of two
 * nodes racing for one visitor or for an agent's last slot, exactly one wins. [IM-SUPPORT-1]
 *
 * - assign: claim the chat (`SupportStore.claim`, one owner) → take one of the agent's slots
 *   (`takeSlot`, never above its capacity) → write the conversation as active. A lost claim means
 *   another node assigned it; a full agent gives the claim back.
 * - hand over (transfer to an agent): the new agent's slot first, then the claim moves, then the
 *   old agent's slot is freed.
 * - requeue / close: the conversation is written first, then the claim and the slot are freed.
 *
 * A node that dies between two of these steps leaves a claim or a slot no conversation backs;
 * `reconcile` (run by the cluster's leader with the timers) frees them, and gives chats that are
 * active without a claim (stores written before claims existed) their claim.
 */
import { ImError } from '../../shared/errors.js'
import type { AgentState, Conversation } from '../../shared/protocol.js'
import type { ConversationStore, PrincipalStore, SupportStore } from '../store/ports.js'

export interface AssignmentDeps {
  conversations: ConversationStore
  support: SupportStore
  principals: PrincipalStore
  now: () => number
}

export type AssignOutcome = { conv: Conversation } | { lost: 'taken' | 'full' }

/** A claim this old on a chat still waiting was left by a node that died while assigning it. */
export const STALE_CLAIM_MS = 30_000

export class Assignments {
  readonly #deps: AssignmentDeps

  constructor (deps: AssignmentDeps) {
    this.#deps = deps
  }

  /** A waiting chat to `agent`, unless another node was first or the agent is full. */
  async assign (conv: Conversation, agent: AgentState): Promise<AssignOutcome> {
    const { support } = this.#deps
    const now = this.#deps.now()
    if (!await support.claim(conv.cid, agent.uid, now)) return { lost: 'taken' }
    if (!await support.takeSlot(agent.uid, conv.cid, agent.capacity, now)) {
      await support.unclaim(conv.cid, agent.uid)
      return { lost: 'full' }
    }
    const agentName = (await this.#deps.principals.get(agent.uid))?.name
    const next = await this.#deps.conversations.update(conv.cid, (c) => !(c.support?.state === 'waiting' || (c.support?.state === 'active' && c.support.agent === agent.uid))
      ? c // closed (or given to someone else) meanwhile
      : {
          ...c,
          members: [...c.members.filter((m) => m.uid !== agent.uid), { uid: agent.uid, role: 'member', joinedAt: now, readSeq: 0 }],
          support: { ...c.support, state: 'active', agent: agent.uid, agentName, assignedAt: now }
        })
    if (next.support?.state !== 'active' || next.support.agent !== agent.uid) {
      await this.#free(agent.uid, conv.cid)
      return { lost: 'taken' }
    }
    await support.patchAgent(agent.uid, { idleSince: now })
    await support.indexOpen(next)
    return { conv: next }
  }

  /** An active chat from `from` to `to`. Throws IM_ERR_AGENT_FULL when `to` has no free slot. */
  async handOver (conv: Conversation, from: string | undefined, to: AgentState): Promise<Conversation> {
    const { support } = this.#deps
    const cid = conv.cid
    const now = this.#deps.now()
    if (!await support.takeSlot(to.uid, cid, to.capacity, now)) throw new ImError('IM_ERR_AGENT_FULL')
    const moved = from !== undefined && await support.moveClaim(cid, from, to.uid, now)
    if (!moved && !await support.claim(cid, to.uid, now)) {
      await support.releaseSlot(to.uid, cid)
      throw new ImError('IM_ERR_ALREADY_ASSIGNED', 'The chat changed hands meanwhile.')
    }
    const agentName = (await this.#deps.principals.get(to.uid))?.name
    const next = await this.#deps.conversations.update(cid, (c) => ({
      ...c,
      members: [...c.members.filter((m) => m.uid !== from && m.uid !== to.uid), { uid: to.uid, role: 'member', joinedAt: now, readSeq: 0 }],
      support: { ...c.support!, state: 'active', agent: to.uid, agentName, assignedAt: now }
    }))
    if (from !== undefined) await this.#free(from, cid)
    await support.patchAgent(to.uid, { idleSince: now })
    await support.indexOpen(next)
    return next
  }

  /** An active chat back to the queue at `queuedAt`; its agent's slot is freed. */
  async requeue (cid: string, previous: string | undefined, queuedAt: number): Promise<Conversation> {
    const queued = await this.#deps.conversations.update(cid, (c) => ({
      ...c,
      members: c.members.filter((m) => m.uid !== previous),
      support: { ...c.support!, state: 'waiting', agent: undefined, agentName: undefined, assignedAt: undefined, queuedAt }
    }))
    if (previous !== undefined) await this.#free(previous, cid)
    await this.#deps.support.indexOpen(queued)
    return queued
  }

  /** After a chat closed: its owner's claim and slot go. */
  async closed (conv: Conversation): Promise<void> {
    const agent = conv.support?.agent
    if (agent !== undefined) await this.#free(agent, conv.cid)
    else await this.#deps.support.unclaim(conv.cid)
  }

  /** Frees claims and slots no conversation backs (a node died mid-way); claims active chats without one. */
  async reconcile (): Promise<void> {
    const { support, conversations } = this.#deps
    const now = this.#deps.now()
    for (const cid of await support.openCids()) {
      const conv = await conversations.get(cid)
      const info = conv?.support
      if (!info) continue
      const claim = await support.claimOf(cid)
      if (info.state === 'waiting' && claim && now - claim.at > STALE_CLAIM_MS) await this.#free(claim.agent, cid)
      if (info.state === 'active' && info.agent !== undefined && !claim) await support.claim(cid, info.agent, now)
    }
    for (const agent of await support.listAgents()) {
      for (const cid of agent.active) {
        const info = (await conversations.get(cid))?.support
        const owns = info?.state === 'active' && info.agent === agent.uid
        const assigning = info !== undefined && info.state !== 'closed' && (await support.claimOf(cid))?.agent === agent.uid
        if (!owns && !assigning) await support.releaseSlot(agent.uid, cid)
      }
    }
  }

  async #free (agent: string, cid: string): Promise<void> {
    await this.#deps.support.unclaim(cid, agent)
    await this.#deps.support.releaseSlot(agent, cid)
    await this.#deps.support.patchAgent(agent, { idleSince: this.#deps.now() })
  }
}
