/**
 * The soak's customer service: visitors through the widget's flow and agents answering them.
 *
 * - A visit (`Visitors.visit`): `POST /api/v1/visitors` with the site key → MQTT over WebSocket
 *   as the widget connects (client id `{uid}-t1`, clean=false, keepalive 30 s) and its inbox
 *   subscribed → `POST /api/v1/support/conversations` (the support chat opens, timed) → one
 *   message (QoS 1), until its echo → a moment for an agent's answer → the visitor leaves, half
 *   of them dropping the socket, half disconnecting; its session stays until it expires.
 * - An `Agent`: over WebSocket as the console connects, persistent session, online with a
 *   capacity; each chat assigned to it gets one answer, then the agent closes it.
 *
 * An echo that does not come while its sender waits, connected, is a held-back delivery.
 */
import type { MqttClient } from 'mqtt'
import type { Conversation, ServerEvent } from '../shared/protocol.js'
import { topics } from '../shared/topics.js'
import type { ImUser } from './im-setup.js'
import { connectWith, leave, sleep } from './soak-clients.js'

/** how long an HTTP call waits for its answer, and a command for its PUBACK */
const ANSWER_TIMEOUT_MS = 10_000
/**
 * How long a visitor waits, connected, for the echo of its acknowledged message before it counts
 * as held back: long enough that a pause of the broker (a heap snapshot under load stops it for
 * seconds) makes it late, not missing.
 */
const ECHO_WAIT_MS = 30_000
/** how long a visitor stays for an agent's answer after its echo */
const STAY_FOR_ANSWER_MS = 2000
/** how long an agent takes to answer a chat assigned to it */
const AGENT_THINKS_MS = 300

type Events = (event: ServerEvent) => void

function inboxHandler (uid: string, on: Events): (client: MqttClient) => void {
  return (client) => {
    client.on('message', (topic, payload) => { if (topic === topics.inbox(uid)) on(JSON.parse(payload.toString()) as ServerEvent) })
  }
}

export class Agent {
  assigned = 0
  answered = 0
  echoes = 0
  closed = 0
  /** replies acknowledged whose echo never came (counted at `close`) */
  echoMissing: string[] = []
  readonly #waiting = new Set<string>()
  #replies = 0
  #client: MqttClient | undefined

  constructor (readonly user: ImUser) {}

  async connect (wsUrl: string, capacity: number): Promise<void> {
    const { uid, token } = this.user
    this.#client = await connectWith(wsUrl, { clientId: `${uid}-console`, clean: false, username: uid, password: token }, inboxHandler(uid, (event) => { this.#event(event) }))
    await this.#client.subscribeAsync(topics.inbox(uid), { qos: 1 })
    await this.#client.publishAsync(topics.outbox(uid), JSON.stringify({ op: 'agent.status', status: 'online', capacity }), { qos: 1 })
  }

  async close (): Promise<void> {
    this.echoMissing.push(...this.#waiting)
    if (this.#client) await leave(this.#client, false)
  }

  #event (event: ServerEvent): void {
    if (event.ev === 'conv' && event.type === 'assigned' && event.conv.support?.agent === this.user.uid) {
      this.assigned++
      void this.#answer(event.conv.cid).catch(() => undefined)
    } else if (event.ev === 'msg' && event.msg.from === this.user.uid && this.#waiting.delete(event.msg.cmid)) {
      this.echoes++
    }
  }

  async #answer (cid: string): Promise<void> {
    const client = this.#client!
    await sleep(AGENT_THINKS_MS)
    const cmid = `${this.user.uid}-r${++this.#replies}`
    this.#waiting.add(cmid)
    await client.publishAsync(topics.outbox(this.user.uid), JSON.stringify({ op: 'send', cmid, cid, type: 'text', body: { text: 'Hello, how can I help?' } }), { qos: 1 })
    this.answered++
    await client.publishAsync(topics.outbox(this.user.uid), JSON.stringify({ op: 'support.close', cid }), { qos: 1 })
    this.closed++
  }
}

export interface VisitTarget { httpUrl: string, wsUrl: string, siteKey: string }

export class Visitors {
  started = 0
  completed = 0
  answered = 0
  failed = 0
  firstFailure: string | undefined
  /** visitors whose own message was acknowledged and whose echo never came while they waited */
  echoMissing: string[] = []
  /** `support.open` latencies since the last `takeOpenMs` */
  #openMs: number[] = []
  inFlight = 0

  constructor (readonly target: VisitTarget) {}

  takeOpenMs (): number[] {
    const taken = this.#openMs
    this.#openMs = []
    return taken
  }

  async visit (abrupt: boolean): Promise<void> {
    this.started++
    this.inFlight++
    let client: MqttClient | undefined
    try {
      const { uid, token } = await post<ImUser>(this.target.httpUrl, '/api/v1/visitors', { siteKey: this.target.siteKey })
      const cmid = `${uid}-1`
      let echoed: () => void = () => undefined
      let answered: () => void = () => undefined
      const echo = new Promise<void>((resolve) => { echoed = resolve })
      const answer = new Promise<void>((resolve) => { answered = resolve })
      client = await connectWith(this.target.wsUrl, { clientId: `${uid}-t1`, clean: false, username: uid, password: token }, inboxHandler(uid, (event) => {
        if (event.ev !== 'msg') return
        if (event.msg.cmid === cmid) echoed()
        else if (event.msg.from !== uid) answered()
      }))
      await client.subscribeAsync(topics.inbox(uid), { qos: 1 })
      const openedAt = performance.now()
      const conv = await post<Conversation>(this.target.httpUrl, '/api/v1/support/conversations', { context: { url: 'https://shop.example/soak', locale: 'en' } }, token)
      this.#openMs.push(performance.now() - openedAt)
      await within(client.publishAsync(topics.outbox(uid), JSON.stringify({ op: 'send', cmid, cid: conv.cid, type: 'text', body: { text: 'Hello, is anyone there?' } }), { qos: 1 }), ANSWER_TIMEOUT_MS, 'PUBACK of the visitor\'s message')
      if (await arrives(echo, ECHO_WAIT_MS)) {
        if (await arrives(answer, STAY_FOR_ANSWER_MS)) this.answered++
      } else {
        this.echoMissing.push(`${uid}: ${conv.cid} ${cmid}`)
      }
      this.completed++
    } catch (err) {
      this.failed++
      this.firstFailure ??= err instanceof Error ? err.message : String(err)
    } finally {
      this.inFlight--
      if (client) await leave(client, abrupt)
    }
  }
}

async function post<T> (httpUrl: string, path: string, body: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const res = await fetch(httpUrl + path, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) })
  const text = await res.text()
  if (!res.ok) throw new Error(`POST ${path}: HTTP ${res.status} ${text}`)
  return JSON.parse(text) as T
}

async function arrives (promise: Promise<void>, ms: number): Promise<boolean> {
  return await within(promise, ms, '').then(() => true, () => false)
}

async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} within ${ms / 1000} s`)), ms) })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}
