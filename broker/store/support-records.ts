/** Agent records as every support store keeps them: the record, and `active` from the slots. */
import type { AgentState } from '../../shared/protocol.js'
import type { AgentPatch, AgentRecord } from './ports.js'

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
