/** Client-side ids (`cmid`s): `crypto.randomUUID` where the platform has it (Node 20, secure browser contexts). */
import type { Random } from './timers.js'

export function randomId (random: Random = Math.random): string {
  const crypto = (globalThis as { crypto?: Partial<Crypto> }).crypto
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID()
  const bytes = new Uint8Array(16)
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256)
  // A UUID v4 layout, so ids look alike whichever way they were made.
  bytes[6] = (bytes[6]! & 0x0f) | 0x40
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
