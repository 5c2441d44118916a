/** Agent records and queue entries as every support store keeps them. */
import type { AgentState, Conversation } from '../../shared/protocol.js'
import type { AgentPatch, AgentRecord, QueueEntry } from './ports.js'

/** An agent's record: its state without `active` (which only slots give), also one stored before slots. */
export function toRecord (agent: AgentRecord & { active?: unknown }): AgentRecord {
  const { active: _active, ...record } = agent
  return record
}

/** The agent's state: its record with `active` = the cids of its slots, oldest first (ties by cid). */
export function withSlots (record: AgentRecord & { active?: unknown }, slots: Array<{ cid: string, at: number }>): AgentState {
  const rest = toRecord(record)
  const active = [...slots].sort((a, b) => a.at - b.at || (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0)).map((s) => s.cid)
  return { ...rest, active }
}

/** `record` with `patch` applied: `null` removes an optional field. */
export function applyAgentPatch (record: AgentRecord & { active?: unknown }, patch: AgentPatch): AgentRecord {
  const next = toRecord(record)
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue
    if (value === null) delete (next as Record<string, unknown>)[key]
    else (next as Record<string, unknown>)[key] = value
  }
  return next
}

/** A waiting chat's entry in the queue. [IM-SUPPORT-RANK] */
export function queueEntry (conv: Conversation): QueueEntry {
  const support = conv.support!
  return { cid: conv.cid, visitor: support.visitor, queuedAt: support.queuedAt, wrote: support.wroteAt !== undefined }
}

/** Queue order: chats whose visitor wrote first, then by `queuedAt`, ties by cid. */
export function compareQueue (a: QueueEntry, b: QueueEntry): number {
  return Number(b.wrote) - Number(a.wrote) || a.queuedAt - b.queuedAt || (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0)
}
