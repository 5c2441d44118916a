/**
 * Reads one inbox payload into an `ImEvent`. The server is trusted for the content, but a
 * payload that is not JSON, or lacks what the library relies on (a message's id, cid, seq), is
 * dropped rather than allowed to break the client. Unknown event names pass through as `null`:
 * clients must ignore events and fields they do not know [IM-EV-1].
 */
import type { ImEvent, Message } from '../protocol.js'

const KNOWN = new Set<string>(['msg', 'read', 'typing', 'recall', 'edit', 'presence', 'conv', 'error'])
const decoder = new TextDecoder()

export function parseEvent (payload: Uint8Array | string): ImEvent | null {
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
      return isMessage(raw.msg) ? raw as unknown as ImEvent : null
    case 'read':
      return typeof raw.cid === 'string' && typeof raw.uid === 'string' && typeof raw.seq === 'number' ? raw as unknown as ImEvent : null
    case 'typing':
      return typeof raw.cid === 'string' && typeof raw.uid === 'string' ? raw as unknown as ImEvent : null
    case 'recall':
      return typeof raw.cid === 'string' && typeof raw.id === 'string' ? raw as unknown as ImEvent : null
    case 'presence':
      return typeof raw.uid === 'string' && typeof raw.online === 'boolean' ? raw as unknown as ImEvent : null
    case 'conv':
      return isObject(raw.conv) && typeof raw.conv.cid === 'string' ? raw as unknown as ImEvent : null
    default:
      return typeof raw.code === 'string' ? raw as unknown as ImEvent : null
  }
}

export function isMessage (value: unknown): value is Message {
  return isObject(value) && typeof value.id === 'string' && typeof value.cid === 'string' &&
    typeof value.seq === 'number' && Number.isInteger(value.seq) && value.seq > 0 && typeof value.from === 'string'
}

function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
