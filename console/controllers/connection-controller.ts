/**
 * `ConnectionController`: owns the host's `ImClient` — creates it for a session, follows its
 * connection state (for the reconnect banner) and closes it when the host goes or the agent signs
 * out. Reconnecting, re-sending and syncing are the client library's; the desk resyncs the rest
 * on its `connected` event.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { createImClient, type ImClient } from '../../shared/client/index.js'
import type { Session } from '../state/session.js'

export type LinkState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed'

export interface ConnectionControllerOptions {
  /** `ws(s)://host/mqtt` of the page's own origin by default */
  mqttUrl?: string
  /** the page's own origin by default */
  httpUrl?: string
  /** the broker refused the credentials for good (the token expired, the account went) */
  onRefused?: () => void
}

export class ConnectionController implements ReactiveController {
  readonly #host: ReactiveControllerHost
  readonly #options: ConnectionControllerOptions
  #client: ImClient | undefined
  #offs: Array<() => void> = []
  state: LinkState = 'idle'
  /** reconnect attempts since the connection was lost */
  attempt = 0
  /** it was connected once: a later loss shows the banner */
  everConnected = false

  constructor (host: ReactiveControllerHost, options: ConnectionControllerOptions = {}) {
    this.#host = host
    this.#options = options
    host.addController(this)
  }

  get client (): ImClient | undefined { return this.#client }

  hostDisconnected (): void {
    void this.stop()
  }

  /** A client for the session; it connects (and keeps reconnecting) on its own. */
  start (session: Session): ImClient {
    void this.stop()
    const secure = location.protocol === 'https:'
    const client = createImClient({
      mqttUrl: this.#options.mqttUrl ?? `${secure ? 'wss' : 'ws'}://${location.host}/mqtt`,
      httpUrl: this.#options.httpUrl ?? location.origin,
      uid: session.uid,
      token: session.token,
      clientId: session.clientId,
      keepaliveSeconds: 20,
      // An agent waits for a broker restart: retry soon, and never more than 5 s apart.
      reconnect: { initialMs: 500, maxMs: 5000, jitter: 0.3 }
    })
    this.#client = client
    this.state = 'connecting'
    this.attempt = 0
    this.everConnected = false
    this.#offs = [
      client.on('connected', () => { this.#set('connected'); this.attempt = 0; this.everConnected = true }),
      client.on('disconnected', () => { this.#set('reconnecting') }),
      client.on('reconnecting', (e) => { this.attempt = e.attempt; this.#set(this.everConnected ? 'reconnecting' : 'connecting') }),
      client.on('closed', (e) => {
        this.#set('closed')
        if (e.error) this.#options.onRefused?.()
      })
    ]
    client.connect().catch(() => undefined)
    this.#host.requestUpdate()
    return client
  }

  async stop (): Promise<void> {
    const client = this.#client
    if (!client) return
    this.#client = undefined
    for (const off of this.#offs.splice(0)) off()
    this.state = 'idle'
    this.#host.requestUpdate()
    await client.close().catch(() => undefined)
  }

  #set (state: LinkState): void {
    this.state = state
    this.#host.requestUpdate()
  }
}
