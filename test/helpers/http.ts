/** A small JSON client for the broker's HTTP API. */
import { ADMIN_PASSWORD } from './broker.js'

export interface ApiResponse<T = any> { status: number, body: T, headers: Headers }

export async function api<T = any> (base: string, method: string, path: string, body?: unknown, token?: string): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token) headers.authorization = `Bearer ${token}`
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  let parsed: any = text
  try { parsed = JSON.parse(text) } catch { /* not JSON */ }
  return { status: res.status, body: parsed as T, headers: res.headers }
}

export async function adminToken (base: string): Promise<string> {
  const res = await api(base, 'POST', '/api/v1/login', { uid: 'admin', password: ADMIN_PASSWORD })
  if (res.status !== 200) throw new Error(`admin login failed: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.token
}

export interface Principal { uid: string, token: string, role: string }

/** Creates a principal through the admin API and logs it in. */
export async function createUser (base: string, admin: string, uid: string, role: 'user' | 'agent' | 'admin' = 'user', extra: Record<string, unknown> = {}): Promise<Principal> {
  const password = `pw-${uid}-12345`
  const created = await api(base, 'POST', '/api/v1/admin/principals', { uid, role, password, ...extra }, admin)
  if (created.status !== 201) throw new Error(`create ${uid} failed: ${created.status} ${JSON.stringify(created.body)}`)
  const login = await api(base, 'POST', '/api/v1/login', { uid, password })
  return { uid, role, token: login.body.token }
}

export async function defaultSiteKey (base: string, admin: string): Promise<string> {
  const sites = await api(base, 'GET', '/api/v1/admin/sites', undefined, admin)
  return sites.body.sites[0].siteKey
}
