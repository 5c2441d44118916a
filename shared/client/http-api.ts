/**
 * The broker's HTTP API as the client library uses it: conversations and history [IM-SYNC-1].
 * `fetch` is global in Node 20 and browsers; it can be injected for tests. A 401 is retried once
 * with a refreshed token when the application gave a `getToken` callback.
 */
import { ImError, isErrorCode } from '../errors.js'
import type { Conversation, ConversationKind, ConversationSummary, HistoryPage, VisitorContext } from '../protocol.js'
import { ImClientError } from './errors.js'
import type { TokenSource } from './tokens.js'

export type Fetch = typeof globalThis.fetch

export interface HistoryQuery {
  /** messages with seq > after, oldest first */
  after?: number
  /** the `limit` messages just before this seq, oldest first */
  before?: number
  /** 1–200 (server default 50) */
  limit?: number
}

export interface HttpApiOptions {
  /** e.g. `http://127.0.0.1:8080`; `/api/v1/…` is appended */
  baseUrl: string
  tokens: TokenSource
  fetch?: Fetch
}

/** conversations asked for per page when listing them all */
const CONVERSATION_PAGE = 200

export class HttpApi {
  readonly #base: string
  readonly #tokens: TokenSource
  readonly #fetch: Fetch

  constructor ({ baseUrl, tokens, fetch = (input, init) => globalThis.fetch(input, init) }: HttpApiOptions) {
    this.#base = baseUrl.replace(/\/+$/, '')
    this.#tokens = tokens
    this.#fetch = fetch
  }

  /**
   * `GET /api/v1/conversations`, every page (the server pages by cursor [IM-CONV-3]): the caller's
   * conversations, newest activity first.
   */
  async conversations (): Promise<ConversationSummary[]> {
    const all: ConversationSummary[] = []
    let cursor: string | undefined
    do {
      const query = `?limit=${CONVERSATION_PAGE}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`
      const body = await this.#request<{ conversations: ConversationSummary[], next?: unknown }>('GET', `/api/v1/conversations${query}`)
      if (!Array.isArray(body.conversations)) throw new ImClientError('CLIENT_BAD_RESPONSE', 'conversations: no list in the answer')
      all.push(...body.conversations)
      cursor = typeof body.next === 'string' && body.next !== cursor ? body.next : undefined
    } while (cursor !== undefined)
    const activity = (c: ConversationSummary): number => c.lastMessage?.ts ?? c.createdAt
    return all.sort((a, b) => activity(b) - activity(a))
  }

  /** `GET /api/v1/conversations/{cid}`: with every member's readSeq. */
  async conversation (cid: string): Promise<Conversation> {
    return await this.#request<Conversation>('GET', `/api/v1/conversations/${encodeURIComponent(cid)}`)
  }

  /** `POST /api/v1/conversations`; a direct conversation that exists already comes back as it is. */
  async createConversation (kind: ConversationKind, members: string[], title?: string): Promise<Conversation> {
    return await this.#request<Conversation>('POST', '/api/v1/conversations', { kind, members, ...(title !== undefined ? { title } : {}) })
  }

  /** One page of history: `after` pages forwards, `before` backwards, neither gives the newest page. */
  async messages (cid: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    const params = new URLSearchParams()
    if (query.after !== undefined) params.set('after', String(query.after))
    if (query.before !== undefined) params.set('before', String(query.before))
    if (query.limit !== undefined) params.set('limit', String(query.limit))
    const search = params.toString()
    const qs = search === '' ? '' : `?${search}`
    const page = await this.#request<HistoryPage>('GET', `/api/v1/conversations/${encodeURIComponent(cid)}/messages${qs}`)
    if (!Array.isArray(page.messages) || typeof page.more !== 'boolean') throw new ImClientError('CLIENT_BAD_RESPONSE', 'messages: not a history page')
    return page
  }

  /** `GET /api/v1/support/conversations`: a visitor's own support chats, newest first. */
  async supportConversations (): Promise<Conversation[]> {
    const body = await this.#request<{ conversations: Conversation[] }>('GET', '/api/v1/support/conversations')
    if (!Array.isArray(body.conversations)) throw new ImClientError('CLIENT_BAD_RESPONSE', 'support conversations: no list in the answer')
    return body.conversations
  }

  /** `POST /api/v1/support/conversations`: the visitor's open support chat, or a new one in the queue. */
  async openSupport (context?: VisitorContext): Promise<Conversation> {
    return await this.#request<Conversation>('POST', '/api/v1/support/conversations', context ? { context } : {})
  }

  async addMember (cid: string, uid: string): Promise<Conversation> {
    return await this.#request<Conversation>('POST', `/api/v1/conversations/${encodeURIComponent(cid)}/members`, { uid })
  }

  async removeMember (cid: string, uid: string): Promise<Conversation> {
    return await this.#request<Conversation>('DELETE', `/api/v1/conversations/${encodeURIComponent(cid)}/members/${encodeURIComponent(uid)}`)
  }

  async #request<T> (method: string, path: string, body?: unknown): Promise<T> {
    let response = await this.#send(method, path, body, await this.#tokens.current())
    if (response.status === 401 && this.#tokens.canRefresh) {
      response = await this.#send(method, path, body, await this.#tokens.refresh())
    }
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text === '' ? undefined : JSON.parse(text)
    } catch {
      throw new ImClientError('CLIENT_BAD_RESPONSE', `${method} ${path}: HTTP ${response.status}, not JSON`)
    }
    if (!response.ok) throw toError(method, path, response.status, parsed)
    if (parsed === null || typeof parsed !== 'object') throw new ImClientError('CLIENT_BAD_RESPONSE', `${method} ${path}: HTTP ${response.status}, no JSON object`)
    return parsed as T
  }

  async #send (method: string, path: string, body: unknown, token: string): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    return await this.#fetch(this.#base + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  }
}

/** `{"error":{"code","message"}}` becomes an `ImError` with its catalogue code [IM-ERR-1]. */
function toError (method: string, path: string, status: number, body: unknown): Error {
  const error = (body as { error?: { code?: unknown, message?: unknown } } | undefined)?.error
  if (error && isErrorCode(error.code)) return new ImError(error.code, typeof error.message === 'string' ? error.message : undefined)
  return new ImClientError('CLIENT_BAD_RESPONSE', `${method} ${path}: HTTP ${status}`)
}
