/**
 * The operations `--suite store-size` times, one at a time against an otherwise idle broker, so
 * that each figure is what the operation itself costs — not queueing behind others:
 *
 * - `visitor connect`: `POST /api/v1/visitors` → MQTT CONNECT as the widget does (client id
 *   `{uid}-t1`, clean=false) → SUBSCRIBE to `im/u/{uid}/in` at QoS 1, until the SUBACK;
 * - `support.open`: the command on `im/u/{uid}/out` (QoS 1), until the `conv` `created` event;
 * - `visitor send`: a `send` in that support chat, until its echo (the `msg` event with its cmid);
 * - `user send`: a user's `send` in a direct conversation, until its echo.
 *
 * Each repetition is one visitor's visit — it arrives, opens a chat, writes once, then leaves:
 * closes its chat (so the queue stays empty: every open pays for the chats waiting) and
 * disconnects, its persistent session kept — followed by one `user send`. Every operation waits
 * for all the broker's answers (a command's PUBACK too, sent once the command is done; the
 * recipient's copy of a user's message) before the next starts; its latency ends at the answer
 * named above. Broker CPU per operation: the broker's threads' CPU time over the same span, and
 * its main thread's apart (thread-cpu.ts, nanoseconds). An answer that does not come within 10 s
 * is lost.
 */
import type { IClientOptions, MqttClient } from 'mqtt'
import type { ConvEvent, MsgEvent, ServerEvent } from '../shared/protocol.js'
import { topics } from '../shared/topics.js'
import { closeClients, connectClient, sleep } from './clients.js'
import type { ImUser } from './im-setup.js'
import { InboxEvents, type Arrival } from './inbox-events.js'
import { cpuSeconds, machineBusySeconds } from './proc.js'
import { threadCpuNs, type ThreadCpu } from './thread-cpu.js'

export const OPERATIONS = ['visitor connect', 'support.open', 'visitor send', 'user send'] as const
export type Operation = typeof OPERATIONS[number]

/** per measured operation: latency, broker CPU (all threads), broker CPU on its main thread */
export interface OperationSamples { latencyMs: number[], cpuUs: number[], mainUs: number[], lost: number }

export interface OperationsResult {
  transport: string
  operations: Record<Operation, OperationSamples>
  /** answers to the unmeasured steps (a visitor closing its chat) that never came */
  lostOther: number
  duplicates: number
  /** the measured repetitions, every step and pause between the operations included */
  brokerCpu: { allSeconds: number, mainSeconds: number } | null
  /** the whole run, warm-up included: its wall time, and the CPU everything else on the machine used */
  wallSeconds: number
  otherCpuPercent: number | null
}

export interface OperationsTarget {
  transport: string
  /** MQTT URL of the transport */
  url: string
  httpUrl: string
  brokerPid: number
  siteKey: string
  /** two users and their direct conversation */
  pair: { a: ImUser, b: ImUser, cid: string }
}

/** repetitions run first and not measured (JIT, caches, connections); their losses count */
export const WARMUP_REPETITIONS = 20
const ANSWER_TIMEOUT_MS = 10_000
/** after a visitor leaves, for the broker to finish with its disconnection (presence, session record) */
const SETTLE_MS = 10

interface Connected { client: MqttClient, inbox: InboxEvents, uid: string }

interface Run {
  target: OperationsTarget
  result: OperationsResult
  errors: Error[]
  /** inboxes of the visitors gone, for their duplicates */
  duplicates: number
}

export async function measureOperations (target: OperationsTarget, repetitions: number): Promise<OperationsResult> {
  const operations = Object.fromEntries(OPERATIONS.map((op) => [op, { latencyMs: [], cpuUs: [], mainUs: [], lost: 0 }])) as unknown as Record<Operation, OperationSamples>
  const run: Run = { target, result: { transport: target.transport, operations, lostOther: 0, duplicates: 0, brokerCpu: null, wallSeconds: 0, otherCpuPercent: null }, errors: [], duplicates: 0 }
  const users = await Promise.all([target.pair.a, target.pair.b].map(async (u) => await connectInbox(target.url, u, { clientId: `bench-${process.pid}-${target.transport}-${u.uid}` }, run.errors)))
  const [a, b] = users as [Connected, Connected]
  const machineBefore = machineBusySeconds()
  const brokerBefore = cpuSeconds(target.brokerPid)
  const benchBefore = process.cpuUsage()
  const startedAt = performance.now()
  let measuredFrom: ThreadCpu | undefined
  try {
    for (let rep = 0; rep < WARMUP_REPETITIONS + repetitions; rep++) {
      const measured = rep >= WARMUP_REPETITIONS
      if (rep === WARMUP_REPETITIONS) measuredFrom = threadCpuNs(target.brokerPid)
      await visit(run, rep, measured)
      await sleep(SETTLE_MS)
      await userSend(run, a, b, rep, measured)
      if (run.errors.length > 0) throw run.errors[0]!
    }
  } finally {
    await closeClients(users.map((u) => u.client))
  }
  const measuredTo = threadCpuNs(target.brokerPid)
  if (measuredFrom && measuredTo) run.result.brokerCpu = { allSeconds: (measuredTo.all - measuredFrom.all) / 1e9, mainSeconds: (measuredTo.main - measuredFrom.main) / 1e9 }
  const wallSeconds = (performance.now() - startedAt) / 1000
  const machineAfter = machineBusySeconds()
  const brokerAfter = cpuSeconds(target.brokerPid)
  const bench = process.cpuUsage(benchBefore)
  const others = machineBefore === undefined || machineAfter === undefined || brokerBefore === undefined || brokerAfter === undefined
    ? null
    : (machineAfter - machineBefore) - (brokerAfter - brokerBefore) - (bench.user + bench.system) / 1e6
  run.result.wallSeconds = wallSeconds
  run.result.otherCpuPercent = others === null ? null : Math.max(0, others / wallSeconds) * 100
  run.result.duplicates = run.duplicates + a.inbox.duplicates + b.inbox.duplicates
  return run.result
}

/** One visitor: arrives, opens a chat, writes once, closes the chat and leaves. */
async function visit (run: Run, rep: number, measured: boolean): Promise<void> {
  const { target, result, errors } = run
  const { operations } = result
  let visitor: Connected | undefined
  await timed(target, operations['visitor connect'], measured, async () => {
    const identity = await postJson<ImUser>(`${target.httpUrl}/api/v1/visitors`, { siteKey: target.siteKey })
    visitor = await connectInbox(target.url, identity, { clientId: `${identity.uid}-t1`, clean: false, keepalive: 30 }, errors)
    return performance.now()
  })
  const self = visitor!
  try {
    let cid: string | undefined
    const created = self.inbox.next(isConv('created'), ANSWER_TIMEOUT_MS)
    const opened = await timed(target, operations['support.open'], measured, async () => {
      const arrival = await command(self, { op: 'support.open', context: { url: 'https://shop.example/bench', locale: 'en' } }, created)
      cid = arrival?.event.conv.cid
      return arrival?.at
    })
    if (!opened || cid === undefined) {
      operations['visitor send'].lost++
      return
    }
    const cmid = `store-${target.transport}-${rep}`
    const echo = self.inbox.next(isEcho(cmid), ANSWER_TIMEOUT_MS)
    await timed(target, operations['visitor send'], measured, async () => {
      return (await command(self, { op: 'send', cmid, cid, type: 'text', body: { text: 'Hello, is anyone there?' } }, echo))?.at
    })
    const closed = self.inbox.next(isConv('closed'), ANSWER_TIMEOUT_MS)
    if (await command(self, { op: 'support.close', cid }, closed) === undefined) result.lostOther++
  } finally {
    await closeClients([self.client])
    run.duplicates += self.inbox.duplicates
  }
}

async function userSend ({ target, result }: Run, a: Connected, b: Connected, rep: number, measured: boolean): Promise<void> {
  const cmid = `direct-${target.transport}-${rep}`
  const echo = a.inbox.next(isEcho(cmid), ANSWER_TIMEOUT_MS)
  const copy = b.inbox.next(isEcho(cmid), ANSWER_TIMEOUT_MS)
  await timed(target, result.operations['user send'], measured, async () => {
    const arrival = await command(a, { op: 'send', cmid, cid: target.pair.cid, type: 'text', body: { text: 'See you at four.' } }, echo)
    return await copy === undefined ? undefined : arrival?.at
  })
}

/**
 * Times `work`, which resolves — once all the broker's work for it is answered — with the moment
 * the operation's answer arrived, or `undefined` when an answer was lost. Returns false then.
 */
async function timed (target: OperationsTarget, samples: OperationSamples, measured: boolean, work: () => Promise<number | undefined>): Promise<boolean> {
  const cpuBefore = threadCpuNs(target.brokerPid)
  const startedAt = performance.now()
  const answeredAt = await work()
  const cpuAfter = threadCpuNs(target.brokerPid)
  if (answeredAt === undefined) {
    samples.lost++
    return false
  }
  if (measured) {
    samples.latencyMs.push(answeredAt - startedAt)
    if (cpuBefore !== undefined && cpuAfter !== undefined) {
      samples.cpuUs.push((cpuAfter.all - cpuBefore.all) / 1000)
      samples.mainUs.push((cpuAfter.main - cpuBefore.main) / 1000)
    }
  }
  return true
}

/** A command at QoS 1; resolves with `answer` once the PUBACK came too, `undefined` when either did not. */
async function command<E extends ServerEvent> (who: Connected, body: object, answer: Promise<Arrival<E> | undefined>): Promise<Arrival<E> | undefined> {
  const acked = arrivesWithin(who.client.publishAsync(topics.outbox(who.uid), JSON.stringify(body), { qos: 1 }), ANSWER_TIMEOUT_MS)
  const [arrival, ack] = await Promise.all([answer, acked])
  return ack ? arrival : undefined
}

async function connectInbox (url: string, user: ImUser, options: IClientOptions, errors: Error[]): Promise<Connected> {
  const client = await connectClient(url, { ...options, username: user.uid, password: user.token }, errors)
  const inbox = new InboxEvents(client, user.uid)
  const granted = await client.subscribeAsync(topics.inbox(user.uid), { qos: 1 })
  if (granted[0]?.qos !== 1) throw new Error(`${user.uid}: subscription to its inbox refused (granted ${String(granted[0]?.qos)})`)
  return { client, inbox, uid: user.uid }
}

function isConv (type: ConvEvent['type']) {
  return (event: ServerEvent): event is ConvEvent => event.ev === 'conv' && event.type === type
}

function isEcho (cmid: string) {
  return (event: ServerEvent): event is MsgEvent => event.ev === 'msg' && event.msg.cmid === cmid
}

/** true when `promise` settled within `ms` (a rejection is thrown) */
async function arrivesWithin (promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
  try {
    return await Promise.race([promise.then(() => true), late])
  } finally {
    clearTimeout(timer)
  }
}

async function postJson<T> (url: string, body: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const text = await res.text()
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status} ${text}`)
  return JSON.parse(text) as T
}
