/**
 * The default transport, on MQTT.js 5 — the only file of the library that imports `mqtt`.
 * MQTT.js' own reconnect is disabled (`reconnectPeriod: 0`): the library runs its backoff, asks
 * for a fresh token first, and re-sends unacknowledged commands itself. Each `connect()` builds a
 * fresh `MqttClient`, so MQTT.js never replays an old connection's packets behind our back.
 */
import { connect as mqttConnect, type IClientOptions, type MqttClient } from 'mqtt'
import { Emitter } from './emitter.js'
import {
  ConnectionClosedError, ConnectRefusedError, SUBACK_FAILURE,
  type ConnectResult, type QoS, type Transport, type TransportConnectOptions, type TransportEvents
} from './transport.js'

/** Options passed through to MQTT.js (TLS `ca`, `wsOptions`…); the transport sets the rest. */
export type MqttJsExtraOptions = Omit<IClientOptions, 'clientId' | 'username' | 'password' | 'clean' | 'keepalive' | 'reconnectPeriod' | 'connectTimeout'>

export class MqttJsTransport extends Emitter<TransportEvents> implements Transport {
  readonly #extra: MqttJsExtraOptions
  #client: MqttClient | null = null
  #open = false
  /** rejects the `connect()` still waiting for its CONNACK */
  #abortConnect: ((err: Error) => void) | null = null
  /** rejecters of publishes and subscribes still waiting for their acknowledgement */
  readonly #waiting = new Set<(err: Error) => void>()

  constructor (extra: MqttJsExtraOptions = {}) {
    super()
    this.#extra = extra
  }

  get connected (): boolean {
    return this.#open
  }

  async connect (url: string, o: TransportConnectOptions): Promise<ConnectResult> {
    this.#drop()
    const client = mqttConnect(url, {
      ...this.#extra,
      protocolVersion: 4,
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      clean: o.clean,
      keepalive: o.keepalive,
      connectTimeout: o.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false
    })
    this.#client = client
    noDelay(client)
    let lastError: Error | undefined
    // An 'error' event without a listener would throw; keep the last one for the close event.
    client.on('error', (err) => { lastError = err })
    return await new Promise<ConnectResult>((resolve, reject) => {
      const refuse = (err: Error): void => {
        if (this.#abortConnect === refuse) this.#abortConnect = null
        client.removeAllListeners()
        client.on('error', () => undefined)
        client.end(true)
        if (this.#client === client) this.#client = null
        reject(err)
      }
      this.#abortConnect = refuse
      client.once('error', (err: Error & { code?: unknown }) => {
        if (this.#open && this.#client === client) return
        refuse(typeof err.code === 'number' ? new ConnectRefusedError(err.code) : err)
      })
      client.once('close', () => {
        if (!this.#open || this.#client !== client) refuse(lastError ?? new ConnectionClosedError('the connection closed before CONNACK'))
      })
      client.once('connect', (connack) => {
        if (this.#client !== client) return
        this.#abortConnect = null
        this.#open = true
        client.on('close', () => { if (this.#client === client) this.#lost(lastError) })
        client.on('message', (topic, payload) => { this.emit('message', { topic, payload }) })
        const result = { sessionPresent: connack.sessionPresent }
        resolve(result)
        this.emit('connect', result)
      })
    })
  }

  async publish (topic: string, payload: string, qos: QoS): Promise<void> {
    await this.#acknowledged((client, done) => {
      client.publish(topic, payload, { qos }, (err) => { done(err ?? undefined) })
    })
  }

  async subscribe (filter: string, qos: QoS): Promise<number> {
    let code = SUBACK_FAILURE
    await this.#acknowledged((client, done) => {
      client.subscribe(filter, { qos }, (err, granted) => {
        // MQTT.js reports a refused filter as an error that carries the SUBACK.
        const suback = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted
        if (err && suback?.[0] !== undefined) { code = suback[0]; done(); return }
        if (err) { done(err); return }
        code = granted?.[0]?.qos ?? SUBACK_FAILURE
        done()
      })
    })
    return code
  }

  async end (): Promise<void> {
    this.#drop()
  }

  /** Runs `send` on the open client; settles once, on its acknowledgement or when the connection ends. */
  async #acknowledged (send: (client: MqttClient, done: (err?: Error) => void) => void): Promise<void> {
    const client = this.#client
    if (!client || !this.#open) throw new ConnectionClosedError()
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => { this.#waiting.delete(fail); reject(err) }
      this.#waiting.add(fail)
      send(client, (err) => {
        if (!this.#waiting.delete(fail)) return
        if (err) reject(err)
        else resolve()
      })
    })
  }

  #lost (error?: Error): void {
    this.#open = false
    for (const fail of [...this.#waiting]) fail(new ConnectionClosedError('the connection closed before the acknowledgement'))
    this.emit('close', error ? { error } : {})
  }

  /** Ends the current client, if any, without waiting; emits `close` if it was open. */
  #drop (): void {
    this.#abortConnect?.(new ConnectionClosedError('the connection was ended before CONNACK'))
    const client = this.#client
    if (!client) return
    this.#client = null
    const wasOpen = this.#open
    client.removeAllListeners()
    client.on('error', () => undefined)
    client.end(true)
    if (wasOpen) this.#lost()
  }
}

/**
 * Over TCP, Nagle's algorithm holds a small write back until the previous one is acknowledged: a
 * chat client that both acknowledges and publishes stalls ~40 ms a message (delayed ACK). MQTT.js
 * does not turn it off, so this does, on its socket (a browser's WebSocket has no such switch).
 */
export function noDelay (client: MqttClient): void {
  const stream = (client as unknown as { stream?: { setNoDelay?: (on: boolean) => unknown } }).stream
  stream?.setNoDelay?.(true)
}
