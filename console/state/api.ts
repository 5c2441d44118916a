/**
 * The HTTP routes the console uses beyond the client library's own (conversations and history):
 * login, the agent's status, the queue, other agents, canned replies and a visitor's past chats.
 * Errors come back as `ApiError`s carrying the catalogue code [IM-ERR-1].
 */
import { isErrorCode, type ErrorCode } from '../../shared/errors.js'
import type { AgentState, AgentStatus, Conversation } from '../../shared/protocol.js'
import type { QueuePage } from './queue.js'

export interface LoginAnswer { uid: string, role: string, token: string, expiresAt: number }
export interface CannedReply { id: string, owner: string | null, title: string, text: string, createdAt: number }

export class ApiError extends Error {
  readonly code: ErrorCode | 'NETWORK' | 'HTTP'
  readonly status: number

  constructor (code: ErrorCode | 'NETWORK' | 'HTTP', status: number, message: string) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = status
  }
}

export class ConsoleApi {
  readonly #base: string
  readonly #token: string | undefined

  constructor (base: string, token?: string) {
    this.#base = base.replace(/\/+$/, '')
    this.#token = token
  }

  async login (uid: string, password: string): Promise<LoginAnswer> {
    return await this.#request<LoginAnswer>('POST', '/api/v1/login', { uid, password })
  }

  async me (): Promise<AgentState> {
    return await this.#request<AgentState>('GET', '/api/v1/agents/me')
  }

  async setStatus (status: AgentStatus, capacity?: number): Promise<AgentState> {
    return await this.#request<AgentState>('PUT', '/api/v1/agents/me', { status, ...(capacity !== undefined ? { capacity } : {}) })
  }

  async agents (): Promise<AgentState[]> {
    return (await this.#request<{ agents: AgentState[] }>('GET', '/api/v1/agents')).agents
  }

  /** A page of the waiting queue, visitors who wrote first; `after` is the `next` of the page before. [IM-SUPPORT-PAGE] */
  async queue (limit: number, after?: string): Promise<QueuePage> {
    const query = new URLSearchParams({ limit: String(limit), ...(after !== undefined ? { after } : {}) })
    return await this.#request<QueuePage>('GET', `/api/v1/support/queue?${query.toString()}`)
  }

  async canned (): Promise<CannedReply[]> {
    return (await this.#request<{ replies: CannedReply[] }>('GET', '/api/v1/canned')).replies
  }

  /** Every support chat of `visitor`, newest first. */
  async visitorChats (visitor: string): Promise<Conversation[]> {
    const query = new URLSearchParams({ visitor })
    return (await this.#request<{ conversations: Conversation[] }>('GET', `/api/v1/support/conversations?${query.toString()}`)).conversations
  }

  async #request<T> (method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {}
    if (this.#token) headers.authorization = `Bearer ${this.#token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let response: Response
    try {
      response = await fetch(this.#base + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
    } catch (err) {
      throw new ApiError('NETWORK', 0, err instanceof Error ? err.message : String(err))
    }
    const parsed = await response.json().catch(() => undefined) as unknown
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown, message?: unknown } } | undefined)?.error
      const code = isErrorCode(error?.code) ? error.code : 'HTTP'
      throw new ApiError(code, response.status, typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`)
    }
    return parsed as T
  }
}
