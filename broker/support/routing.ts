/**
 * Which agent gets the next chat: an online agent with a free slot and the fewest active chats;
 * ties go to the one idle longest. Pure, so the rule is testable alone. [IM-SUPPORT-ROUTE]
 */
import type { AgentState } from '../../shared/protocol.js'

export function hasRoom (agent: AgentState): boolean {
  return agent.active.length < agent.capacity
}

export function pickAgent (agents: readonly AgentState[]): AgentState | undefined {
  let best: AgentState | undefined
  for (const agent of agents) {
    if (agent.status !== 'online' || !hasRoom(agent)) continue
    if (!best || agent.active.length < best.active.length ||
      (agent.active.length === best.active.length && agent.idleSince < best.idleSince)) best = agent
  }
  return best
}
