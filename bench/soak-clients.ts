/**
 * The soak's long-lived clients, each on MQTT.js with a persistent session (clean=false, a fixed
 * client id), and what each one received recorded in the ledger (soak-ledger.ts):
 *
 * - `ChatUser`: a user of the chat, over MQTT/TCP; sends to its conversations at QoS 1 (its
 *   PUBACK: acknowledged), subscribes to its inbox at every connect as the client library does,
 *   and goes away now and then — half of the time dropping the socket, half with a DISCONNECT —
 *   to come back after a moment with the same client id.
 * - `Device`: an IoT device (role `device`, its secret as password), over MQTT/TCP; subscribes
 *   once, to `devices/{uid}/cmd` and the queue status `im/b/support/queue`, and from then on
 *   relies on its session — it never subscribes again after a reconnect.
 * - `Controller`: a user that sends each device a numbered command on `devices/{uid}/cmd` (QoS 1)
 *   every second, over a clean session that never drops.
 *
 * Handlers are attached before the CONNECT: a session's queued messages may follow the CONNACK in
 * the same read, before a promise of the connection would have resolved.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { noDelay } from '../shared/client/mqttjs-transport.js'
import type { ServerEvent } from '../shared/protocol.js'
import { topics } from '../shared/topics.js'
import type { ImUser } from './im-setup.js'
import type { DeliveryLedger } from './soak-ledger.js'

const CONNECT_TIMEOUT_MS = 15_000
const CLOSE_TIMEOUT_MS = 3000

/** Connects with `handlers` already listening; rejects on a refusal, an error or a timeout. */
export async function connectWith (url: string, options: IClientOptions, handlers: (client: MqttClient) => void): Promise<MqttClient> {
  const client = connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: CONNECT_TIMEOUT_MS, keepalive: 30, ...options })
  client.on('error', () => undefined) // a refused or failed connect rejects below; later errors end in 'close'
  handlers(client)
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => { resolve() })
      client.once('error', reject)
      client.once('close', () => { reject(new Error('closed before the CONNACK')) })
    })
  } catch (err) {
    client.end(true)
    throw err
  }
  noDelay(client)
  return client
}

/** Leaves: drops the socket (no DISCONNECT: the broker sees the connection break) or disconnects cleanly. */
export async function leave (client: MqttClient, abrupt: boolean): Promise<void> {
  if (abrupt) {
    (client as unknown as { stream?: { destroy: () => void } }).stream?.destroy()
    client.end(true)
    return
  }
  let timer: NodeJS.Timeout | undefined
  await Promise.race([client.endAsync(), new Promise<void>((resolve) => { timer = setTimeout(() => { client.end(true); resolve() }, CLOSE_TIMEOUT_MS) })])
  clearTimeout(timer)
}

/** A persistent-session client that can go away and come back. */
abstract class SessionClient {
  client: MqttClient | undefined
  connected = false
  reconnects = 0
  failedConnects = 0
  #away = false

  constructor (readonly url: string, readonly uid: string) {}

  protected abstract options (): IClientOptions
  protected abstract onMessage (topic: string, payload: Buffer): void
  protected abstract afterConnect (client: MqttClient, first: boolean): Promise<void>

  async connect (): Promise<void> {
    const first = this.client === undefined
    const client = await connectWith(this.url, { clean: false, ...this.options() }, (c) => {
      c.on('message', (topic, payload) => { this.onMessage(topic, payload) })
      c.on('close', () => { if (this.client === c) this.connected = false })
    })
    this.client = client
    this.connected = true
    await this.afterConnect(client, first)
  }

  /** Goes away for `pauseMs`, then connects again (trying until it succeeds or `stopped()`). */
  async bounce (abrupt: boolean, pauseMs: number, stopped: () => boolean): Promise<void> {
    if (this.#away || !this.connected || this.client === undefined) return
    this.#away = true
    try {
      this.connected = false
      await leave(this.client, abrupt)
      await sleep(pauseMs)
      await this.#connectUntil(stopped)
      this.reconnects++
    } finally {
      this.#away = false
    }
  }

  /** A connection the broker closed (or that failed) is made again, unless one is under way. */
  async reconnect (stopped: () => boolean): Promise<void> {
    if (this.#away || this.connected) return
    this.#away = true
    try {
      await this.#connectUntil(stopped)
    } finally {
      this.#away = false
    }
  }

  async #connectUntil (stopped: () => boolean): Promise<void> {
    while (!this.connected && !stopped()) {
      try {
        await this.connect()
      } catch {
        this.failedConnects++
        await sleep(500)
      }
    }
  }

  async close (): Promise<void> {
    this.connected = false
    if (this.client) await leave(this.client, false)
  }
}

export class ChatUser extends SessionClient {
  #sent = 0

  constructor (url: string, readonly user: ImUser, readonly conversations: string[], readonly ledger: DeliveryLedger) {
    super(url, user.uid)
  }

  /** One message to one of its conversations, at random; nothing while it is away. */
  send (): boolean {
    const client = this.client
    if (!this.connected || client === undefined) return false
    const cid = this.conversations[Math.floor(Math.random() * this.conversations.length)]!
    const cmid = `${this.uid}-${++this.#sent}`
    this.ledger.sent(this.uid, cid, cmid)
    const command = { op: 'send', cmid, cid, type: 'text', body: { text: `soak ${cmid} at ${Date.now()}` } }
    client.publish(topics.outbox(this.uid), JSON.stringify(command), { qos: 1 }, (err) => { if (!err) this.ledger.acknowledged(cmid) })
    return true
  }

  protected options (): IClientOptions {
    return { clientId: `${this.uid}-soak`, username: this.uid, password: this.user.token }
  }

  protected onMessage (topic: string, payload: Buffer): void {
    if (topic !== topics.inbox(this.uid)) return
    const event = JSON.parse(payload.toString()) as ServerEvent
    if (event.ev === 'msg') this.ledger.received(this.uid, event.msg)
  }

  protected async afterConnect (client: MqttClient): Promise<void> {
    await client.subscribeAsync(topics.inbox(this.uid), { qos: 1 })
  }
}

export const COMMAND_TOPIC = (device: string): string => `devices/${device}/cmd`

export class Device extends SessionClient {
  /** queue status messages received */
  statuses = 0

  constructor (url: string, uid: string, readonly secret: string, readonly ledger: DeliveryLedger) {
    super(url, uid)
  }

  protected options (): IClientOptions {
    return { clientId: `${this.uid}-dev`, username: this.uid, password: this.secret }
  }

  protected onMessage (topic: string, payload: Buffer): void {
    if (topic === COMMAND_TOPIC(this.uid)) this.ledger.commandReceived(this.uid, (JSON.parse(payload.toString()) as { seq: number }).seq)
    else this.statuses++
  }

  /** The first connection subscribes; the others find the subscriptions in the session. */
  protected async afterConnect (client: MqttClient, first: boolean): Promise<void> {
    if (first) await client.subscribeAsync([COMMAND_TOPIC(this.uid), topics.broadcast('support/queue')], { qos: 1 })
  }
}

/** Sends every device a numbered command each second (`start`), over a clean session. */
export class Controller {
  #timer: NodeJS.Timeout | undefined
  #seq = 0

  private constructor (readonly client: MqttClient, readonly devices: string[], readonly ledger: DeliveryLedger) {}

  static async connect (url: string, user: ImUser, devices: string[], ledger: DeliveryLedger): Promise<Controller> {
    const client = await connectWith(url, { clientId: `${user.uid}-ctl`, clean: true, username: user.uid, password: user.token }, () => undefined)
    return new Controller(client, devices, ledger)
  }

  start (): void {
    this.#timer = setInterval(() => {
      const seq = ++this.#seq
      for (const device of this.devices) {
        this.ledger.commandSent(device, seq)
        this.client.publish(COMMAND_TOPIC(device), JSON.stringify({ seq }), { qos: 1 }, (err) => { if (!err) this.ledger.commandAcknowledged(device, seq) })
      }
    }, 1000)
  }

  stop (): void {
    clearInterval(this.#timer)
  }

  async close (): Promise<void> {
    this.stop()
    await leave(this.client, false)
  }
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
