/**
 * The MQTT transport behind the client library. MQTT.js implements it in Node and the console
 * (`MqttJsTransport`); the widget will bring a minimal MQTT 3.1.1 client over the browser's
 * WebSocket. Nothing else in the library knows which one it talks to.
 *
 * Contract:
 * - `connect()` opens a new connection (ending the previous one, if any) and resolves on an
 *   accepted CONNACK; a refused CONNACK rejects with `ConnectRefusedError`, a network failure or
 *   timeout with any other error. It never reconnects by itself: the library runs its own backoff.
 * - `close` is emitted once for every connection that was accepted, whatever ended it (the
 *   network, the broker, keepalive, `end()`); never for a connection that was not accepted.
 * - `publish()` resolves on PUBACK for QoS 1 (once written for QoS 0); it rejects when there is
 *   no open connection or when the connection ends first. The transport never re-sends a
 *   publish on a later connection: the library does that itself, with the same `cmid`.
 * - `subscribe()` resolves with the granted code: 0 or 1, or 0x80 when refused [MQTT-3.9.3].
 */
import type { Listener } from './emitter.js'

export type QoS = 0 | 1

export interface TransportConnectOptions {
  clientId: string
  /** the uid */
  username: string
  /** the access token */
  password: string
  /** false keeps a persistent session */
  clean: boolean
  /** seconds */
  keepalive: number
  /** give up on an unanswered CONNECT after this long */
  connectTimeoutMs: number
}

export interface ConnectResult {
  sessionPresent: boolean
}

export interface TransportEvents {
  connect: ConnectResult
  close: { error?: Error }
  message: { topic: string, payload: Uint8Array }
}

export interface Transport {
  readonly connected: boolean
  connect (url: string, options: TransportConnectOptions): Promise<ConnectResult>
  publish (topic: string, payload: string, qos: QoS): Promise<void>
  subscribe (filter: string, qos: QoS): Promise<number>
  end (): Promise<void>
  on<K extends keyof TransportEvents> (event: K, listener: Listener<TransportEvents[K]>): () => void
}

/** SUBACK return code of a refused subscription [MQTT-3.9.3-2]. */
export const SUBACK_FAILURE = 0x80

/** CONNACK return codes of MQTT 3.1.1 [MQTT-3.2.2.3]. */
export const CONNACK = {
  UNACCEPTABLE_PROTOCOL: 1,
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USERNAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5
} as const

/** The broker answered CONNECT with a non-zero CONNACK return code. */
export class ConnectRefusedError extends Error {
  readonly returnCode: number

  constructor (returnCode: number) {
    super(`connection refused: CONNACK ${returnCode}`)
    this.name = 'ConnectRefusedError'
    this.returnCode = returnCode
  }
}

/** A publish or subscribe that could not complete because the connection is not (or no longer) open. */
export class ConnectionClosedError extends Error {
  constructor (message = 'the connection is closed') {
    super(message)
    this.name = 'ConnectionClosedError'
  }
}
