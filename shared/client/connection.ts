/**
 * The MQTT connection's life: connect with the token, run `setup` (subscribe the inbox), and when
 * the connection is lost or an attempt fails, try again after 1 s, 2 s, 4 s … (capped at 30 s;
 * back to 1 s after a successful connect). Before every reconnect the token is refreshed when the
 * application gave `getToken`. `close()` stops everything, for good [IM-AUTH-1].
 *
 * States: idle → connecting → connected → waiting (for the next attempt) → connecting …; any → closed.
 */
import type { Backoff } from './backoff.js'
import { Emitter } from './emitter.js'
import { ImClientError } from './errors.js'
import type { TimerHandle, Timers } from './timers.js'
import type { TokenSource } from './tokens.js'
import { CONNACK, ConnectRefusedError, type Transport } from './transport.js'

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'closed'

export interface ConnectionEvents {
  connected: { sessionPresent: boolean }
  /** an open connection was lost (`willReconnect`) or closed by `close()` */
  disconnected: { error?: Error, willReconnect: boolean }
  /** the next attempt is scheduled */
  reconnecting: { attempt: number, delayMs: number, error?: Error }
  /** for good: `close()` (no error) or a refusal that retrying cannot cure */
  closed: { error?: Error }
}

export interface ConnectionOptions {
  url: string
  uid: string
  clientId: string
  keepaliveSeconds: number
  connectTimeoutMs: number
  transport: Transport
  tokens: TokenSource
  backoff: Backoff
  timers: Timers
  /** runs after CONNACK, before `connected`; a throw drops the connection and counts as a failed attempt */
  setup (sessionPresent: boolean): Promise<void>
}

export class Connection extends Emitter<ConnectionEvents> {
  readonly #o: ConnectionOptions
  #state: ConnectionState = 'idle'
  #timer: TimerHandle | null = null
  /** failed attempts and losses since the last successful connect */
  #failures = 0
  #everConnected = false
  #ready: { promise: Promise<void>, resolve: () => void, reject: (err: Error) => void } | null = null

  constructor (options: ConnectionOptions) {
    super()
    this.#o = options
    options.transport.on('close', ({ error }) => { this.#lost(error) })
  }

  get state (): ConnectionState {
    return this.#state
  }

  /** Starts connecting; resolves on the first successful connect, rejects if closed before. */
  async start (): Promise<void> {
    if (this.#state === 'closed') throw new ImClientError('CLIENT_CLOSED', 'the client is closed')
    if (!this.#ready) {
      let resolve!: () => void
      let reject!: (err: Error) => void
      const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej })
      promise.catch(() => undefined)
      this.#ready = { promise, resolve, reject }
      if (this.#everConnected) resolve()
    }
    if (this.#state === 'idle') void this.#attempt()
    await this.#ready.promise
  }

  async close (): Promise<void> {
    if (this.#state === 'closed') return
    this.#stop()
    const wasConnected = this.#o.transport.connected
    await this.#o.transport.end()
    if (wasConnected) this.emit('disconnected', { willReconnect: false })
    this.emit('closed', {})
  }

  async #attempt (): Promise<void> {
    const { transport, tokens } = this.#o
    this.#state = 'connecting'
    try {
      // The first attempt uses the token given; every later one asks for a fresh one first.
      const password = this.#failures > 0 || this.#everConnected ? await tokens.refresh() : await tokens.current()
      if (this.#isClosed()) return
      const { sessionPresent } = await transport.connect(this.#o.url, {
        clientId: this.#o.clientId,
        username: this.#o.uid,
        password,
        clean: false,
        keepalive: this.#o.keepaliveSeconds,
        connectTimeoutMs: this.#o.connectTimeoutMs
      })
      if (this.#isClosed()) { await transport.end(); return }
      await this.#o.setup(sessionPresent)
      if (this.#isClosed()) return
      if (!transport.connected) throw new Error('the connection was lost during setup')
      this.#state = 'connected'
      this.#failures = 0
      this.#everConnected = true
      this.#o.backoff.reset()
      this.#ready?.resolve()
      this.emit('connected', { sessionPresent })
    } catch (err) {
      if (this.#isClosed()) return
      const error = err instanceof Error ? err : new Error(String(err))
      if (isFatal(error, tokens.canRefresh)) { this.#fail(error); return }
      if (transport.connected) await transport.end()
      this.#schedule(error)
    }
  }

  #lost (error?: Error): void {
    if (this.#state !== 'connected') return
    this.#state = 'waiting'
    this.emit('disconnected', { ...(error ? { error } : {}), willReconnect: true })
    this.#schedule(error)
  }

  #schedule (error?: Error): void {
    if (this.#isClosed()) return
    this.#state = 'waiting'
    this.#failures++
    const delayMs = this.#o.backoff.next()
    this.emit('reconnecting', { attempt: this.#failures, delayMs, ...(error ? { error } : {}) })
    this.#timer = this.#o.timers.setTimeout(() => {
      this.#timer = null
      void this.#attempt()
    }, delayMs)
  }

  /** A refusal that retrying with the same credentials cannot cure ends the client. */
  #fail (error: Error): void {
    this.#stop(error)
    void this.#o.transport.end()
    this.emit('closed', { error })
  }

  #stop (error?: Error): void {
    this.#state = 'closed'
    if (this.#timer !== null) this.#o.timers.clearTimeout(this.#timer)
    this.#timer = null
    this.#ready?.reject(new ImClientError('CLIENT_CLOSED', error ? `the client is closed: ${error.message}` : 'the client is closed', { cause: error }))
  }

  #isClosed (): boolean {
    return this.#state === 'closed'
  }
}

/** CONNACK 1 and 2 never change by retrying; 4 and 5 only with a fresh token. [MQTT-3.2.2.3] */
function isFatal (error: Error, canRefresh: boolean): boolean {
  if (!(error instanceof ConnectRefusedError)) return false
  switch (error.returnCode) {
    case CONNACK.UNACCEPTABLE_PROTOCOL:
    case CONNACK.IDENTIFIER_REJECTED:
      return true
    case CONNACK.BAD_USERNAME_OR_PASSWORD:
    case CONNACK.NOT_AUTHORIZED:
      return !canRefresh
    default:
      return false
  }
}
