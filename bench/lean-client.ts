/**
 * A lean MQTT 3.1.1 client for the comparison load, so that the load generator is not what limits
 * the figures: MQTT.js spends more CPU per message than some brokers (its outgoing store,
 * a callback and a timer per message). Here a connection is a raw TCP socket (`setNoDelay(true)`,
 * as the brokers' own sockets) or a `ws` WebSocket; what arrives goes through mqtt-packet's parser;
 * control packets come from mqtt-packet's generator, PUBLISH (`PublishEncoder`) and PUBACK are
 * built by hand; and everything a connection sends during one event-loop turn goes out as one write
 * — one TCP write, or one WebSocket frame, which may hold several MQTT packets [MQTT-6.0.0-2].
 *
 * No retry, no reconnection, no outgoing store: a lost connection is reported, and the run fails.
 */
import { connect as netConnect } from 'node:net'
import { generate, parser, type IConnackPacket, type IPublishPacket, type ISubackPacket, type Packet } from 'mqtt-packet'
import { WebSocket } from 'ws'

export interface LeanConnectOptions {
  clientId: string
  /** clean session [MQTT-3.1.2-6]; false resumes (or creates) a persistent session */
  clean: boolean
  /** seconds; a PINGREQ goes out that often (0: none) */
  keepalive: number
}

export interface LeanEvents {
  /** a PUBLISH arrived; for QoS 1 its PUBACK is already queued */
  publish?: (packet: IPublishPacket) => void
  puback?: (messageId: number) => void
  /** the connection ended without `disconnect()`/`destroy()`: the run must fail */
  lost?: (err: Error) => void
}

const CONNECT_TIMEOUT_MS = 10_000
const PINGREQ = Buffer.from([0xc0, 0x00])
const DISCONNECT = Buffer.from([0xe0, 0x00])

/** Connections with something to send this turn: flushed together once the turn's I/O is handled. */
let dirty: LeanClient[] = []
function flushAll (): void {
  const clients = dirty
  dirty = []
  for (const client of clients) client.flush()
}

interface Wire {
  write (data: Buffer): void
  end (): void
  destroy (): void
}

export class LeanClient {
  /** CONNACK's session present flag [MQTT-3.2.2-2] */
  sessionPresent = false
  on: LeanEvents = {}
  #wire: Wire | undefined
  #pending: Buffer[] = []
  #closing = false
  /** CONNACK received: from then on a lost connection is reported through `on.lost` */
  #connected = false
  #closed: Promise<void>
  #onClosed: () => void = () => undefined
  #pinger: NodeJS.Timeout | undefined
  #nextId = 0
  readonly #waiting = new Map<string, (packet: Packet) => void>()
  readonly #parser = parser({ protocolVersion: 4 })

  private constructor () {
    this.#closed = new Promise((resolve) => { this.#onClosed = resolve })
    this.#parser.on('packet', (packet) => this.#receive(packet))
    this.#parser.on('error', (err: Error) => this.#lose(err))
  }

  /** Opens the connection, sends CONNECT, resolves on a CONNACK that accepts it. */
  static async connect (url: string, options: LeanConnectOptions, events: LeanEvents = {}): Promise<LeanClient> {
    const client = new LeanClient()
    client.on = events
    await client.#open(new URL(url), options)
    return client
  }

  /** SUBSCRIBE to one filter; resolves with the granted QoS (0x80: refused). */
  async subscribe (topic: string, qos: 0 | 1): Promise<number> {
    const messageId = this.nextMessageId()
    const suback = await this.#request(`suback:${messageId}`, generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] }))
    return (suback as ISubackPacket).granted[0] as number
  }

  /** Queues a packet; everything queued during this event-loop turn is written at once. */
  send (packet: Buffer): void {
    if (this.#pending.length === 0) {
      if (dirty.length === 0) setImmediate(flushAll)
      dirty.push(this)
    }
    this.#pending.push(packet)
  }

  /** Writes what is queued (normally called once per turn by the module's flush). */
  flush (): void {
    const pending = this.#pending
    if (pending.length === 0 || this.#wire === undefined) return
    this.#pending = []
    this.#wire.write(pending.length === 1 ? pending[0] as Buffer : Buffer.concat(pending))
  }

  /** 1…65535, skipping 0 [MQTT-2.3.1-1]; the callers keep fewer than 65,535 in flight. */
  nextMessageId (): number {
    this.#nextId = this.#nextId === 0xffff ? 1 : this.#nextId + 1
    return this.#nextId
  }

  /** DISCONNECT [MQTT-3.14], then waits for the connection to close (at most 5 s). */
  async disconnect (): Promise<void> {
    if (this.#closing) return await this.#closed
    this.#closing = true
    this.send(DISCONNECT)
    this.flush()
    this.#wire?.end()
    const timer = setTimeout(() => this.destroy(), 5000)
    await this.#closed
    clearTimeout(timer)
  }

  /** Drops the connection at once. */
  destroy (): void {
    this.#closing = true
    this.#wire?.destroy()
    this.#ended()
  }

  async #open (url: URL, options: LeanConnectOptions): Promise<void> {
    const connack = new Promise<Packet>((resolve) => this.#waiting.set('connack', resolve))
    this.#wire = await (url.protocol === 'ws:' ? this.#openWebSocket(url) : this.#openTcp(url))
    this.send(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: options.clientId, clean: options.clean, keepalive: options.keepalive }))
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no CONNACK from ${url.host} within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS) })
    try {
      const packet = await Promise.race([connack, this.#closed.then(() => { throw new Error(`${url.host} closed the connection before its CONNACK`) }), timeout]) as IConnackPacket
      if (packet.returnCode !== 0) throw new Error(`CONNACK refused the connection (return code ${String(packet.returnCode)})`)
      this.sessionPresent = packet.sessionPresent
      this.#connected = true
    } catch (err) {
      this.destroy()
      throw err
    } finally {
      clearTimeout(timer)
    }
    if (options.keepalive > 0) {
      this.#pinger = setInterval(() => this.send(PINGREQ), options.keepalive * 1000)
      this.#pinger.unref()
    }
  }

  #openTcp (url: URL): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: url.hostname, port: Number(url.port), noDelay: true })
      socket.once('connect', () => resolve({ write: (data) => socket.write(data), end: () => socket.end(), destroy: () => socket.destroy() }))
      socket.on('data', (chunk) => this.#parser.parse(chunk))
      socket.on('error', (err) => { reject(err); this.#lose(err) })
      socket.on('close', () => { this.#lose(new Error('connection closed by the broker')); this.#ended() })
    })
  }

  #openWebSocket (url: URL): Promise<Wire> {
    return new Promise((resolve, reject) => {
      // [MQTT-6.0.0-3] the `mqtt` subprotocol; binary frames only [MQTT-6.0.0-1]
      const ws = new WebSocket(url, 'mqtt', { perMessageDeflate: false })
      ws.once('open', () => resolve({ write: (data) => ws.send(data), end: () => ws.close(1000), destroy: () => ws.terminate() }))
      // binaryType 'nodebuffer' (the default): always one Buffer, fragments joined
      ws.on('message', (data) => this.#parser.parse(data as Buffer))
      ws.on('error', (err) => { reject(err); this.#lose(err) })
      ws.on('close', () => { this.#lose(new Error('connection closed by the broker')); this.#ended() })
    })
  }

  #receive (packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        // [MQTT-4.3.2-2] acknowledge a QoS 1 message
        if (packet.qos === 1) this.send(puback(packet.messageId as number))
        this.on.publish?.(packet)
        return
      case 'puback':
        this.on.puback?.(packet.messageId as number)
        return
      case 'connack':
        this.#answer('connack', packet)
        return
      case 'suback':
        this.#answer(`suback:${String(packet.messageId)}`, packet)
        return
      default:
        // PINGRESP, and nothing else a broker sends to an MQTT 3.1.1 client at QoS ≤ 1
    }
  }

  #request (key: string, packet: Buffer): Promise<Packet> {
    const answer = new Promise<Packet>((resolve, reject) => {
      this.#waiting.set(key, resolve)
      void this.#closed.then(() => reject(new Error(`connection closed while waiting for ${key}`)))
    })
    this.send(packet)
    return answer
  }

  #answer (key: string, packet: Packet): void {
    const resolve = this.#waiting.get(key)
    this.#waiting.delete(key)
    resolve?.(packet)
  }

  #lose (err: Error): void {
    if (this.#closing) return
    this.#closing = true
    if (this.#connected) this.on.lost?.(err)
    this.#wire?.destroy()
  }

  #ended (): void {
    clearInterval(this.#pinger)
    this.#onClosed()
  }
}

/** PUBACK [MQTT-3.4]: fixed header 0x40, remaining length 2, packet identifier. */
function puback (messageId: number): Buffer {
  return Buffer.from([0x40, 0x02, messageId >> 8, messageId & 0xff])
}

/**
 * PUBLISH packets to one topic at one QoS with a payload of fixed size [MQTT-3.3], copied from a
 * template: the caller writes its payload from `payloadOffset` into the buffer it gets.
 */
export class PublishEncoder {
  readonly payloadOffset: number
  readonly #template: Buffer
  readonly #idOffset: number

  constructor (topic: string, readonly qos: 0 | 1, payloadBytes: number) {
    const name = Buffer.from(topic, 'utf8')
    const variable = 2 + name.length + (qos > 0 ? 2 : 0) // topic name, then packet identifier at QoS > 0
    const remaining = variable + payloadBytes
    const length = remainingLength(remaining)
    this.#template = Buffer.alloc(1 + length.length + remaining)
    this.#template[0] = 0x30 | (qos << 1) // PUBLISH, DUP 0, RETAIN 0
    length.copy(this.#template, 1)
    const topicAt = 1 + length.length
    this.#template.writeUInt16BE(name.length, topicAt)
    name.copy(this.#template, topicAt + 2)
    this.#idOffset = topicAt + 2 + name.length
    this.payloadOffset = this.#idOffset + (qos > 0 ? 2 : 0)
  }

  /** A new packet (zero payload); `messageId` is ignored at QoS 0. */
  encode (messageId: number): Buffer {
    const packet = Buffer.allocUnsafe(this.#template.length)
    this.#template.copy(packet)
    if (this.qos > 0) packet.writeUInt16BE(messageId, this.#idOffset)
    return packet
  }
}

/** The variable-length Remaining Length [MQTT-2.2.3]: 7 bits per byte, low bits first. */
function remainingLength (value: number): Buffer {
  const bytes: number[] = []
  do {
    let byte = value % 128
    value = Math.floor(value / 128)
    if (value > 0) byte |= 0x80
    bytes.push(byte)
  } while (value > 0)
  return Buffer.from(bytes)
}
