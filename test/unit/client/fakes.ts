/** Fakes for the client library's unit tests: a manual clock, a scripted transport, a fake HTTP API. */
import type { HistoryPage, Message, ServerEvent } from '../../../shared/protocol.js'
import { Emitter } from '../../../shared/client/emitter.js'
import type { Timers } from '../../../shared/client/timers.js'
import {
  ConnectionClosedError, ConnectRefusedError,
  type ConnectResult, type QoS, type Transport, type TransportConnectOptions, type TransportEvents
} from '../../../shared/client/transport.js'

/** Timers that only fire when the test advances the clock. */
export class FakeTimers implements Timers {
  #now = 1_000_000
  #nextId = 1
  readonly #timers = new Map<number, { at: number, callback: () => void }>()

  now (): number { return this.#now }

  setTimeout (callback: () => void, ms: number): number {
    const id = this.#nextId++
    this.#timers.set(id, { at: this.#now + ms, callback })
    return id
  }

  clearTimeout (handle: unknown): void { this.#timers.delete(handle as number) }

  /** Delays of the timers still pending, from now. */
  pending (): number[] { return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b) }

  /** Moves the clock forward, firing due timers in order (and letting promises settle between them). */
  async advance (ms: number): Promise<void> {
    const until = this.#now + ms
    for (;;) {
      await flush()
      const due = [...this.#timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0]
      if (!due) break
      this.#timers.delete(due[0])
      this.#now = due[1].at
      due[1].callback()
    }
    this.#now = until
    await flush()
  }
}

/** Lets every queued promise callback run. */
export async function flush (): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

export type ConnectOutcome = 'accept' | 'accept-session' | number | Error
export interface Published { topic: string, payload: string, qos: QoS, json: Record<string, unknown> }

/**
 * A transport the test drives: each `connect()` takes the next scripted outcome ('accept' when
 * the script is empty); publishes are PUBACKed at once unless `holdAcks` is set.
 */
export class FakeTransport extends Emitter<TransportEvents> implements Transport {
  readonly connects: TransportConnectOptions[] = []
  readonly urls: string[] = []
  readonly published: Published[] = []
  readonly subscribed: Array<{ filter: string, qos: QoS }> = []
  outcomes: ConnectOutcome[] = []
  grant = 1
  holdAcks = false
  #open = false
  #waiting: Array<{ resolve: () => void, reject: (err: Error) => void }> = []

  get connected (): boolean { return this.#open }

  async connect (url: string, options: TransportConnectOptions): Promise<ConnectResult> {
    if (this.#open) this.drop()
    this.urls.push(url)
    this.connects.push(options)
    await Promise.resolve()
    const outcome = this.outcomes.shift() ?? 'accept'
    if (typeof outcome === 'number') throw new ConnectRefusedError(outcome)
    if (outcome instanceof Error) throw outcome
    this.#open = true
    const result = { sessionPresent: outcome === 'accept-session' }
    this.emit('connect', result)
    return result
  }

  async publish (topic: string, payload: string, qos: QoS): Promise<void> {
    if (!this.#open) throw new ConnectionClosedError()
    this.published.push({ topic, payload, qos, json: JSON.parse(payload) as Record<string, unknown> })
    if (!this.holdAcks || qos === 0) return
    await new Promise<void>((resolve, reject) => { this.#waiting.push({ resolve, reject }) })
  }

  /** PUBACKs every publish held so far. */
  ackAll (): void {
    for (const w of this.#waiting.splice(0)) w.resolve()
  }

  async subscribe (filter: string, qos: QoS): Promise<number> {
    if (!this.#open) throw new ConnectionClosedError()
    this.subscribed.push({ filter, qos })
    return this.grant
  }

  async end (): Promise<void> {
    if (this.#open) this.drop()
  }

  /** The connection is lost (the broker, the network, keepalive). */
  drop (error?: Error): void {
    if (!this.#open) return
    this.#open = false
    for (const w of this.#waiting.splice(0)) w.reject(new ConnectionClosedError())
    this.emit('close', error ? { error } : {})
  }

  /** The broker delivers an event on a topic. */
  deliver (topic: string, event: ServerEvent | string): void {
    this.emit('message', { topic, payload: new TextEncoder().encode(typeof event === 'string' ? event : JSON.stringify(event)) })
  }

  sends (): Published[] { return this.published.filter((p) => p.json.op === 'send') }
}

export function message (cid: string, seq: number, extra: Partial<Message> = {}): Message {
  return { id: `${cid}-m${seq}`, cid, seq, from: 'bob', ts: 1000 + seq, type: 'text', body: { text: `#${seq}` }, cmid: `c-${cid}-${seq}`, ...extra }
}

/** A server's history for the HTTP fake: per cid, its messages; pages of `pageSize`. */
export class FakeServer {
  readonly history = new Map<string, Message[]>()
  readonly requests: string[] = []
  pageSize = 200
  failNext = 0
  status = 200

  add (...messages: Message[]): void {
    for (const m of messages) this.history.set(m.cid, [...(this.history.get(m.cid) ?? []), m].sort((a, b) => a.seq - b.seq))
  }

  page (cid: string, after: number): HistoryPage {
    const all = (this.history.get(cid) ?? []).filter((m) => m.seq > after)
    return { messages: all.slice(0, this.pageSize), more: all.length > this.pageSize }
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
    this.requests.push(`${init?.method ?? 'GET'} ${url.pathname}${url.search}`)
    if (this.failNext > 0) { this.failNext--; throw new TypeError('fetch failed') }
    const json = (status: number, body: unknown): Response => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
    if (this.status !== 200) return json(this.status, { error: { code: 'IM_ERR_UNAUTHENTICATED', message: 'no' } })
    const parts = url.pathname.split('/')
    if (url.pathname === '/api/v1/conversations') {
      return json(200, { conversations: [...this.history].map(([cid, ms]) => ({ cid, kind: 'direct', members: [], createdAt: 0, createdBy: 'x', lastSeq: ms.at(-1)?.seq ?? 0, lastMessage: ms.at(-1) ?? null, unread: 0 })) })
    }
    if (parts[5] === 'messages') return json(200, this.page(decodeURIComponent(parts[4]!), Number(url.searchParams.get('after') ?? 0)))
    return json(404, { error: { code: 'IM_ERR_NOT_FOUND', message: 'No such resource.' } })
  }
}
