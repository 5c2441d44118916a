/**
 * The widget's transport: a minimal MQTT 3.1.1 client over the browser's WebSocket, so the widget
 * bundle does without MQTT.js (105 KB gzipped). It implements the same `Transport` contract as
 * `MqttJsTransport` (see ../transport.ts): one connection per `connect()`, no reconnect of its
 * own, `close` once per accepted connection, QoS 1 publishes settled by PUBACK or by the end of
 * the connection. Following that contract it never re-sends a publish on a later connection —
 * the library re-sends with the same `cmid` — so it needs no outgoing session store.
 *
 * The WebSocket constructor is injected (default `globalThis.WebSocket`): tests in Node 20 pass
 * `ws`'s `WebSocket`.
 */
import { Emitter } from '../emitter.js'
import { systemTimers, type TimerHandle, type Timers } from '../timers.js'
import {
  ConnectionClosedError, ConnectRefusedError,
  type ConnectResult, type QoS, type Transport, type TransportConnectOptions, type TransportEvents
} from '../transport.js'
import { encode, PacketReader, type Packet } from './packets.js'

/** The part of the WebSocket API this client uses; the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onerror: ((event: unknown) => void) | null
  onclose: ((event: { code: number, reason: string }) => void) | null
  send (data: Uint8Array): void
  close (code?: number, reason?: string): void
}

export type WebSocketCtor = new (url: string, protocols?: string | string[]) => WebSocketLike

export interface MiniTransportOptions {
  /** default `globalThis.WebSocket` */
  WebSocket?: WebSocketCtor
  timers?: Timers
  /** refuse incoming packets larger than this (default 1 MiB) */
  maxPacketBytes?: number
}

/** WebSocket.OPEN */
const OPEN = 1

interface Waiter {
  resolve: (value: number) => void
  reject: (err: Error) => void
}

/** One WebSocket connection and everything that lives and dies with it. */
class Connection {
  readonly reader: PacketReader
  /** acknowledgements awaited, by packet id: PUBACK and SUBACK */
  readonly waiting = new Map<number, Waiter>()
  accepted = false
  ended = false
  lastSent = 0
  pingTimer: TimerHandle | undefined
  pongTimer: TimerHandle | undefined
  /** why it ended, when it ended by itself */
  error: Error | undefined
  /** the CONNACK came */
  onConnack: ((sessionPresent: boolean, returnCode: number) => void) | undefined
  /** it ended before it was accepted */
  onEnd: ((error?: Error) => void) | undefined
  /** resolves once the WebSocket is closed */
  readonly closed: Promise<void>
  markClosed: () => void = () => undefined
  #nextId = 0

  constructor (readonly ws: WebSocketLike, readonly keepaliveMs: number, maxPacketBytes: number) {
    this.reader = new PacketReader(maxPacketBytes)
    this.closed = new Promise((resolve) => { this.markClosed = resolve })
  }

  /** The next free packet id: 1..65535, wrapping [MQTT-2.3.1-1]. */
  nextId (): number {
    for (let tries = 0; tries < 0xffff; tries++) {
      this.#nextId = this.#nextId >= 0xffff ? 1 : this.#nextId + 1
      if (!this.waiting.has(this.#nextId)) return this.#nextId
    }
    throw new Error('no free packet id: 65535 acknowledgements outstanding')
  }
}

export class MiniMqttTransport extends Emitter<TransportEvents> implements Transport {
  readonly #WebSocket: WebSocketCtor | undefined
  readonly #timers: Timers
  readonly #maxPacketBytes: number
  #conn: Connection | null = null

  constructor (options: MiniTransportOptions = {}) {
    super()
    this.#WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket
    this.#timers = options.timers ?? systemTimers
    this.#maxPacketBytes = options.maxPacketBytes ?? 1024 * 1024
  }

  get connected (): boolean {
    return this.#conn?.accepted === true && !this.#conn.ended
  }

  async connect (url: string, o: TransportConnectOptions): Promise<ConnectResult> {
    this.#drop(this.#conn)
    const Ctor = this.#WebSocket
    if (!Ctor) throw new Error('no WebSocket implementation: pass one as the WebSocket option')
    const ws = new Ctor(url, 'mqtt')
    ws.binaryType = 'arraybuffer'
    const conn = new Connection(ws, o.keepalive * 1000, this.#maxPacketBytes)
    this.#conn = conn
    return await new Promise<ConnectResult>((resolve, reject) => {
      let settled = false
      const fail = (err: Error): void => {
        if (settled) return
        settled = true
        this.#timers.clearTimeout(timeout)
        this.#finish(conn)
        reject(err)
      }
      const timeout = this.#timers.setTimeout(() => { fail(new Error(`no CONNACK within ${o.connectTimeoutMs} ms`)) }, o.connectTimeoutMs)
      conn.onConnack = (sessionPresent, returnCode) => {
        if (settled) return
        // [MQTT-3.2.2-5] a non-zero return code: the server closes the connection
        if (returnCode !== 0) { fail(new ConnectRefusedError(returnCode)); return }
        settled = true
        this.#timers.clearTimeout(timeout)
        conn.accepted = true
        this.#schedulePing(conn)
        const result = { sessionPresent }
        resolve(result)
        this.emit('connect', result)
      }
      conn.onEnd = (err) => { fail(err ?? new ConnectionClosedError('the connection closed before CONNACK')) }
      ws.onopen = () => {
        this.#send(conn, {
          type: 'connect', clientId: o.clientId, username: o.username, password: o.password, clean: o.clean, keepalive: o.keepalive
        })
      }
      ws.onmessage = (event) => { this.#receive(conn, event.data) }
      ws.onerror = () => { this.#lose(conn, new Error(`WebSocket error on ${url}`)) }
      ws.onclose = (event) => {
        conn.markClosed()
        this.#lose(conn, conn.accepted ? undefined : new ConnectionClosedError(`the WebSocket closed before CONNACK (${event.code})`))
      }
    })
  }

  async publish (topic: string, payload: string, qos: QoS): Promise<void> {
    const conn = this.#open()
    const bytes = new TextEncoder().encode(payload)
    if (qos === 0) {
      this.#send(conn, { type: 'publish', topic, payload: bytes, qos: 0, dup: false, retain: false })
      return
    }
    const messageId = conn.nextId()
    await this.#acknowledged(conn, messageId, { type: 'publish', topic, payload: bytes, qos: 1, dup: false, retain: false, messageId })
  }

  async subscribe (filter: string, qos: QoS): Promise<number> {
    const conn = this.#open()
    const messageId = conn.nextId()
    return await this.#acknowledged(conn, messageId, { type: 'subscribe', messageId, subscriptions: [{ topic: filter, qos }] })
  }

  async end (): Promise<void> {
    const conn = this.#conn
    if (!conn) return
    this.#drop(conn)
    // Wait (a little) for the socket to close, so nothing is left behind.
    let timer: TimerHandle
    await Promise.race([conn.closed, new Promise<void>((resolve) => { timer = this.#timers.setTimeout(resolve, 1000) })])
    this.#timers.clearTimeout(timer!)
  }

  #open (): Connection {
    const conn = this.#conn
    if (!conn || !conn.accepted || conn.ended) throw new ConnectionClosedError()
    return conn
  }

  async #acknowledged (conn: Connection, messageId: number, packet: Packet): Promise<number> {
    return await new Promise<number>((resolve, reject) => {
      conn.waiting.set(messageId, { resolve, reject })
      try {
        this.#send(conn, packet)
      } catch (err) {
        conn.waiting.delete(messageId)
        reject(err as Error)
      }
    })
  }

  #send (conn: Connection, packet: Packet): void {
    if (conn.ended || conn.ws.readyState !== OPEN) throw new ConnectionClosedError()
    conn.ws.send(encode(packet))
    conn.lastSent = this.#timers.now()
  }

  #receive (conn: Connection, data: unknown): void {
    if (conn.ended) return
    if (!(data instanceof ArrayBuffer)) { this.#lose(conn, new Error('MQTT over WebSocket needs binary frames')); return } // [MQTT-6.0.0-1]
    let packets: Packet[]
    try {
      packets = conn.reader.push(new Uint8Array(data))
    } catch (err) {
      this.#lose(conn, err as Error)
      return
    }
    for (const packet of packets) {
      if (conn.ended) return
      this.#handle(conn, packet)
    }
  }

  #handle (conn: Connection, packet: Packet): void {
    // Anything from the server shows it is alive.
    if (conn.pongTimer !== undefined) { this.#timers.clearTimeout(conn.pongTimer); conn.pongTimer = undefined }
    if (!conn.accepted && packet.type !== 'connack') {
      this.#lose(conn, new Error(`${packet.type} before CONNACK`)) // [MQTT-3.2.0-1]
      return
    }
    switch (packet.type) {
      case 'connack':
        if (conn.accepted) { this.#lose(conn, new Error('a second CONNACK')); return }
        conn.onConnack?.(packet.sessionPresent, packet.returnCode)
        return
      case 'publish':
        this.emit('message', { topic: packet.topic, payload: packet.payload })
        // [MQTT-4.3.2-2] acknowledge a QoS 1 PUBLISH
        if (packet.qos === 1 && packet.messageId !== undefined && !conn.ended) this.#send(conn, { type: 'puback', messageId: packet.messageId })
        return
      case 'puback':
        this.#settle(conn, packet.messageId, 0)
        return
      case 'suback':
        this.#settle(conn, packet.messageId, packet.granted[0] ?? 0x80)
        return
      case 'pingresp':
        return
      case 'connect':
      case 'subscribe':
      case 'pingreq':
      case 'disconnect':
        // A server never sends these [MQTT-3.1.0-1]…
        this.#lose(conn, new Error(`unexpected ${packet.type} from the server`))
    }
  }

  #settle (conn: Connection, messageId: number, value: number): void {
    const waiter = conn.waiting.get(messageId)
    if (!waiter) return
    conn.waiting.delete(messageId)
    waiter.resolve(value)
  }

  /**
   * Keepalive [MQTT-3.1.2-23]: a PINGREQ when nothing was sent for a keepalive period; the
   * connection is given up when no packet came back within another keepalive period.
   */
  #schedulePing (conn: Connection): void {
    if (conn.keepaliveMs <= 0 || conn.ended) return
    const due = conn.lastSent + conn.keepaliveMs - this.#timers.now()
    conn.pingTimer = this.#timers.setTimeout(() => {
      conn.pingTimer = undefined
      if (conn.ended) return
      if (this.#timers.now() - conn.lastSent >= conn.keepaliveMs) {
        try { this.#send(conn, { type: 'pingreq' }) } catch { return }
        if (conn.pongTimer === undefined) {
          conn.pongTimer = this.#timers.setTimeout(() => {
            conn.pongTimer = undefined
            this.#lose(conn, new Error('keepalive timeout: no PINGRESP'))
          }, conn.keepaliveMs)
        }
      }
      this.#schedulePing(conn)
    }, Math.max(0, due))
  }

  /** The connection ended by itself: network, broker, keepalive or a protocol error. */
  #lose (conn: Connection, error?: Error): void {
    if (conn.ended) return
    conn.error ??= error
    this.#finish(conn)
  }

  /** Ended by us: DISCONNECT first when open [MQTT-3.14]. */
  #drop (conn: Connection | null): void {
    if (!conn || conn.ended) return
    if (conn.accepted && conn.ws.readyState === OPEN) {
      try { conn.ws.send(encode({ type: 'disconnect' })) } catch { /* closing anyway */ }
    }
    this.#finish(conn, new ConnectionClosedError('the connection was ended'))
  }

  #finish (conn: Connection, abort?: Error): void {
    if (conn.ended) return
    conn.ended = true
    if (this.#conn === conn) this.#conn = null
    if (conn.pingTimer !== undefined) this.#timers.clearTimeout(conn.pingTimer)
    if (conn.pongTimer !== undefined) this.#timers.clearTimeout(conn.pongTimer)
    const { ws } = conn
    ws.onopen = null
    ws.onmessage = null
    // Keep an error listener: `ws` throws an 'error' nobody listens to.
    ws.onerror = () => undefined
    if (ws.readyState <= OPEN) {
      try { ws.close(1000) } catch { /* already closing */ }
    }
    const error = conn.error ?? abort
    for (const waiter of conn.waiting.values()) waiter.reject(new ConnectionClosedError('the connection closed before the acknowledgement'))
    conn.waiting.clear()
    if (conn.accepted) this.emit('close', conn.error ? { error: conn.error } : {})
    else conn.onEnd?.(error)
  }
}
