/**
 * Reads one inbox payload into a `ServerEvent` (IM and customer-service events). The server is
 * trusted for the content, but a payload that is not JSON, or lacks what the library relies on (a
 * message's id, cid, seq), is dropped rather than allowed to break the client. Unknown event
 * names pass through as `null`: clients must ignore events and fields they do not know [IM-EV-1].
 */
import type { Message, ServerEvent } from '../protocol.js'

const KNOWN = new Set<string>(['msg', 'read', 'typing', 'recall', 'edit', 'presence', 'conv', 'error', 'queue', 'notice', 'support-queue', 'agent'])
const decoder = new TextDecoder()

export function parseEvent (payload: Uint8Array | string): ServerEvent | null {
  let raw: unknown
  try {
    raw = JSON.parse(typeof payload === 'string' ? payload : decoder.decode(payload))
  } catch {
    return null
  }
  if (!isObject(raw) || typeof raw.ev !== 'string' || !KNOWN.has(raw.ev)) return null
  switch (raw.ev) {
    case 'msg':
    case 'edit':
      return isMessage(raw.msg) ? raw as unknown as ServerEvent : null
    case 'read':
      return typeof raw.cid === 'string' && typeof raw.uid === 'string' && typeof raw.seq === 'number' ? raw as unknown as ServerEvent : null
    case 'typing':
      return typeof raw.cid === 'string' && typeof raw.uid === 'string' ? raw as unknown as ServerEvent : null
    case 'recall':
      return typeof raw.cid === 'string' && typeof raw.id === 'string' ? raw as unknown as ServerEvent : null
    case 'presence':
      return typeof raw.uid === 'string' && typeof raw.online === 'boolean' ? raw as unknown as ServerEvent : null
    case 'conv':
      return isObject(raw.conv) && typeof raw.conv.cid === 'string' ? raw as unknown as ServerEvent : null
    case 'queue':
    case 'notice':
      return typeof raw.cid === 'string' ? raw as unknown as ServerEvent : null
    case 'support-queue':
      return Array.isArray(raw.waiting) && raw.waiting.every((w) => isObject(w) && typeof w.cid === 'string') ? raw as unknown as ServerEvent : null
    case 'agent':
      return isObject(raw.agent) && typeof raw.agent.uid === 'string' ? raw as unknown as ServerEvent : null
    default:
      return typeof raw.code === 'string' ? raw as unknown as ServerEvent : null
  }
}

export function isMessage (value: unknown): value is Message {
  return isObject(value) && typeof value.id === 'string' && typeof value.cid === 'string' &&
    typeof value.seq === 'number' && Number.isInteger(value.seq) && value.seq > 0 && typeof value.from === 'string'
}

function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
