/**
 * Principals: who may connect, and the shape of their ids. [IM-ID-1]
 * Runs in Node and the browser: no `node:` imports in `shared/`.
 */

export const ROLES = ['visitor', 'user', 'agent', 'admin', 'device'] as const
export type Role = (typeof ROLES)[number]

/** A uid is 1–64 characters of `[A-Za-z0-9_-]`, so it is always one safe topic level. [IM-ID-1] */
export const UID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

export function isUid (value: unknown): value is string {
  return typeof value === 'string' && UID_PATTERN.test(value)
}

export function isRole (value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value)
}
