/**
 * Principals and conversations for the IM runs, made through the broker's own HTTP API — what an
 * app's backend does: the admin creates users, each user logs in for its token, a user creates
 * its conversations. [IM-AUTH-3] Done before a run's measurement starts (password hashing is slow
 * on purpose and would swamp the figures).
 */
import { randomBytes } from 'node:crypto'
import type { Conversation, ConversationKind } from '../shared/protocol.js'

export interface ImUser { uid: string, token: string }

/** Logins and user creations in flight at once: each hashes a password (argon2id, ~19 MiB). */
const HASH_CONCURRENCY = 2

export async function adminLogin (httpUrl: string, password: string): Promise<string> {
  const { token } = await call<{ token: string }>(httpUrl, 'POST', '/api/v1/login', { uid: 'admin', password })
  return token
}

/** Creates one principal of `role` (`user`, `agent`) per uid and logs each one in. */
export async function createUsers (httpUrl: string, adminToken: string, uids: string[], role: 'user' | 'agent' = 'user'): Promise<ImUser[]> {
  const password = randomBytes(12).toString('base64url')
  const users: ImUser[] = []
  for (let i = 0; i < uids.length; i += HASH_CONCURRENCY) {
    users.push(...await Promise.all(uids.slice(i, i + HASH_CONCURRENCY).map(async (uid) => {
      await call(httpUrl, 'POST', '/api/v1/admin/principals', { uid, role, password }, adminToken)
      const { token } = await call<{ token: string }>(httpUrl, 'POST', '/api/v1/login', { uid, password })
      return { uid, token }
    })))
  }
  return users
}

/** Creates a device principal; it connects with `secret` as its MQTT password. `channels`: broadcast channels it may read. */
export async function createDevice (httpUrl: string, adminToken: string, uid: string, channels: string[] = []): Promise<{ uid: string, secret: string }> {
  const secret = randomBytes(18).toString('base64url')
  await call(httpUrl, 'POST', '/api/v1/admin/principals', { uid, role: 'device', secret, grants: { channels } }, adminToken)
  return { uid, secret }
}

/** The site key of the broker's first site (created at its first start). */
export async function firstSiteKey (httpUrl: string, adminToken: string): Promise<string> {
  const res = await fetch(`${httpUrl}/api/v1/admin/sites`, { headers: { authorization: `Bearer ${adminToken}` } })
  if (!res.ok) throw new Error(`GET /api/v1/admin/sites: HTTP ${res.status} ${await res.text()}`)
  const { sites } = await res.json() as { sites: Array<{ siteKey: string }> }
  if (sites[0] === undefined) throw new Error('the broker has no site')
  return sites[0].siteKey
}

/** Creates a conversation as `creator` (who becomes a member, and the owner of a group); returns its cid. */
export async function createConversation (httpUrl: string, creator: ImUser, kind: ConversationKind, members: string[]): Promise<string> {
  const conv = await call<Conversation>(httpUrl, 'POST', '/api/v1/conversations', { kind, members }, creator.token)
  return conv.cid
}

async function call<T = unknown> (httpUrl: string, method: string, path: string, body: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const res = await fetch(httpUrl + path, { method, headers, body: JSON.stringify(body) })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`)
  return JSON.parse(text) as T
}
