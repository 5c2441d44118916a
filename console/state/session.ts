/**
 * The signed-in agent, kept in sessionStorage: a reload of the tab stays signed in and keeps its
 * MQTT client id (so the persistent session is found again); another tab signs in by itself.
 */
import { randomId } from '../../shared/client/ids.js'

export interface Session {
  uid: string
  role: string
  token: string
  /** ms since the epoch */
  expiresAt: number
  /** one per tab, stable across reloads */
  clientId: string
}

const KEY = 'imc-session'

export function loadSession (now = Date.now()): Session | undefined {
  try {
    const raw = sessionStorage.getItem(KEY)
    if (!raw) return undefined
    const session = JSON.parse(raw) as Partial<Session>
    if (typeof session.uid !== 'string' || typeof session.token !== 'string' || typeof session.clientId !== 'string' ||
      typeof session.expiresAt !== 'number' || session.expiresAt <= now) return undefined
    return session as Session
  } catch {
    return undefined
  }
}

export function newSession (answer: { uid: string, role: string, token: string, expiresAt: number }): Session {
  const session: Session = { ...answer, clientId: `console-${answer.uid}-${randomId().slice(0, 8)}` }
  try { sessionStorage.setItem(KEY, JSON.stringify(session)) } catch { /* storage may be off */ }
  return session
}

export function clearSession (): void {
  try { sessionStorage.removeItem(KEY) } catch { /* storage may be off */ }
}
