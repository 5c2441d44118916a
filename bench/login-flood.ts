/**
 * `--suite login-flood`: how fast two other users' chat stays while the broker is flooded with
 * wrong logins from many addresses (each within its own limits, as an attacker with a botnet
 * would). Per broker — this tree, and with `--baseline` another commit, side by side in one run:
 *
 *   1. a fresh broker process (default settings: the real limits, not the bench's lifted ones);
 *   2. two users `lf-a`, `lf-b` in a direct conversation, each connected over MQTT/TCP; each sends
 *      the other a message every `--chat-interval` ms (`im/u/{uid}/out`), and the latency of every
 *      `msg` event the other receives on `im/u/{uid}/in` is taken (send → receipt, one clock);
 *   3. `--idle-seconds` of that chat alone, then `--flood-seconds` of it during the flood
 *      (login-flood-load.ts) from `--flood-addresses` addresses;
 *   4. p50 / p99 / max per phase, the broker's CPU, and how the flood was answered.
 *
 * `--rounds N` repeats it, the brokers in turn (this, baseline, then baseline, this…); the summary
 * takes the median of the rounds. Exit 1 when a chat message was lost, 2 on an error.
 */
import { randomBytes } from 'node:crypto'
import type { MqttClient } from 'mqtt'
import type { ServerEvent } from '../shared/protocol.js'
import { topics } from '../shared/topics.js'
import { startBroker } from './broker-process.js'
import { closeClients, connectClient, sleep } from './clients.js'
import { adminLogin, createConversation, createUsers, type ImUser } from './im-setup.js'
import { baselineCheckout, floodAddresses, startFlood, thisCheckout, type Checkout, type FloodAnswers } from './login-flood-load.js'
import type { BenchOptions } from './options.js'
import { cpuSeconds } from './proc.js'
import { summarise, type LatencySummary } from './stats.js'

type Phase = 'idle' | 'flood'

export interface LoginFloodRow {
  broker: string
  round: number
  phase: Phase
  latencyMs: LatencySummary
  sent: number
  lost: number
  /** the broker's CPU over the phase, % of one core (null without /proc) */
  brokerCpuPercent: number | null
  flood?: FloodAnswers
}

/** How long after the last send a chat message may still arrive. */
const GRACE_MS = 10_000

export async function runLoginFlood (options: BenchOptions, machine: Record<string, string | number>): Promise<number> {
  const o = options.loginFlood
  const checkouts = [thisCheckout(), ...(o.baseline === undefined ? [] : [baselineCheckout(o.baseline)])]
  console.log(`mqtt-im login flood — chat between two users every ${o.chatIntervalMs} ms each way; ${o.idleSeconds} s idle, then ${o.floodSeconds} s of wrong logins from ${o.floodAddresses} addresses (127.0.0.2…), ${o.floodRate} a minute each${o.floodBurst ? ' in one burst' : ''}; ${options.rounds} round(s)`)
  console.log(`brokers: ${checkouts.map((c) => c.label).join(', ')}`)
  console.log(`${machine.node} on ${machine.platform}, ${machine.cpuCount} × ${machine.cpuModel}\n`)
  const rows: LoginFloodRow[] = []
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? checkouts : [...checkouts].reverse()
      for (const checkout of order) {
        for (const row of await measure(checkout, round, options)) {
          rows.push(row)
          console.log(`  round ${round} ${row.broker} ${row.phase}: p50 ${row.latencyMs.p50.toFixed(1)} ms, p99 ${row.latencyMs.p99.toFixed(1)} ms, ${row.latencyMs.count} msgs, broker ${fmt(row.brokerCpuPercent)} % CPU${row.flood ? `; flood ${row.flood.attempts} logins: ${row.flood.checked} checked, ${row.flood.rateLimited} × 429, ${row.flood.busy} × 503, ${row.flood.other} other` : ''}${row.lost > 0 ? ` — ${row.lost} LOST` : ''}`)
        }
      }
    }
  } finally {
    for (const c of checkouts) c.remove()
  }
  console.log(`\n${formatSummary(rows, checkouts.map((c) => c.label))}`)
  if (options.json !== undefined) {
    const { writeFileSync } = await import('node:fs')
    writeFileSync(options.json, `${JSON.stringify({ benchmark: 'mqtt-im login-flood', date: new Date().toISOString(), ...machine, options: o, rounds: options.rounds, rows }, null, 2)}\n`)
    console.log(`results written to ${options.json}`)
  }
  const lost = rows.reduce((sum, r) => sum + r.lost, 0)
  if (lost > 0) console.error(`FAIL: ${lost} chat messages lost`)
  return lost > 0 ? 1 : 0
}

/** One broker, one round: the idle phase, then the flood phase. */
async function measure (checkout: Checkout, round: number, options: BenchOptions): Promise<LoginFloodRow[]> {
  const o = options.loginFlood
  const adminPassword = randomBytes(18).toString('base64url')
  const broker = await startBroker({ ADMIN_PASSWORD: adminPassword }, undefined, checkout.root)
  const errors: Error[] = []
  const clients: MqttClient[] = []
  try {
    const admin = await adminLogin(broker.httpUrl, adminPassword)
    const [a, b] = await createUsers(broker.httpUrl, admin, ['lf-a', 'lf-b']) as [ImUser, ImUser]
    const cid = await createConversation(broker.httpUrl, a, 'direct', [b.uid])
    const chat = new Chat(cid)
    for (const user of [a, b]) {
      const client = await connectClient(broker.mqttUrl, { username: user.uid, password: user.token, clientId: `${user.uid}-lf` }, errors)
      clients.push(client)
      chat.attach(client, user.uid)
      await client.subscribeAsync(topics.inbox(user.uid), { qos: 1 })
    }
    const rows: LoginFloodRow[] = []
    const timers = [a, b].map((user, i) => setTimeout(() => {
      const timer = setInterval(() => { void chat.send(clients[i]!, user.uid) }, o.chatIntervalMs)
      timers.push(timer as unknown as NodeJS.Timeout)
    }, i * o.chatIntervalMs / 2))
    const phase = async (name: Phase, seconds: number, during?: () => { stop: () => Promise<FloodAnswers> }): Promise<void> => {
      chat.phase = name
      const cpuBefore = cpuSeconds(broker.pid)
      const started = performance.now()
      const load = during?.()
      await sleep(seconds * 1000)
      const flood = await load?.stop()
      const cpuAfter = cpuSeconds(broker.pid)
      const wallSeconds = (performance.now() - started) / 1000
      const cpu = cpuBefore === undefined || cpuAfter === undefined ? null : (cpuAfter - cpuBefore) / wallSeconds * 100
      rows.push({ broker: checkout.label, round, phase: name, latencyMs: summarise(new Float64Array(0)), sent: 0, lost: 0, brokerCpuPercent: cpu, ...(flood ? { flood } : {}) })
    }
    await phase('idle', o.idleSeconds)
    await phase('flood', o.floodSeconds, () => startFlood(broker.httpUrl, floodAddresses(o.floodAddresses), o.floodRate, o.floodBurst))
    for (const timer of timers) clearTimeout(timer)
    for (const timer of timers) clearInterval(timer)
    await chat.settle(GRACE_MS)
    if (errors.length > 0) throw new Error(`client error: ${errors[0]!.message}`)
    return rows.map((row) => ({ ...row, ...chat.figures(row.phase) }))
  } finally {
    await closeClients(clients)
    await broker.stop()
  }
}

/** Both users' messages: when each was sent, in which phase, and when the other received it. */
class Chat {
  phase: Phase = 'idle'
  readonly #cid: string
  /** `sender:seq` → [phase, sent at] for messages not yet received */
  readonly #pending = new Map<string, [Phase, number]>()
  readonly #samples: Record<Phase, number[]> = { idle: [], flood: [] }
  readonly #sent: Record<Phase, number> = { idle: 0, flood: 0 }
  #seq = 0

  constructor (cid: string) {
    this.#cid = cid
  }

  attach (client: MqttClient, uid: string): void {
    client.on('message', (topic, payload) => {
      if (topic !== topics.inbox(uid)) return
      const event = JSON.parse(payload.toString()) as ServerEvent
      if (event.ev === 'error') throw new Error(`error event: ${JSON.stringify(event)}`)
      if (event.ev !== 'msg' || event.msg.from === uid || event.msg.cid !== this.#cid) return
      const key = event.msg.cmid ?? ''
      const pending = this.#pending.get(key)
      if (pending === undefined) return
      this.#pending.delete(key)
      this.#samples[pending[0]].push(performance.now() - pending[1])
    })
  }

  async send (client: MqttClient, uid: string): Promise<void> {
    const cmid = `lf-${uid}-${++this.#seq}`
    this.#pending.set(cmid, [this.phase, performance.now()])
    this.#sent[this.phase]++
    await client.publishAsync(topics.outbox(uid), JSON.stringify({ op: 'send', cmid, cid: this.#cid, type: 'text', body: { text: cmid } }), { qos: 1 }).catch(() => undefined)
  }

  async settle (graceMs: number): Promise<void> {
    const until = performance.now() + graceMs
    while (this.#pending.size > 0 && performance.now() < until) await sleep(50)
  }

  figures (phase: Phase): Pick<LoginFloodRow, 'latencyMs' | 'sent' | 'lost'> {
    const samples = Float64Array.from(this.#samples[phase])
    const lost = [...this.#pending.values()].filter(([p]) => p === phase).length
    return { latencyMs: summarise(samples), sent: this.#sent[phase], lost }
  }
}

function formatSummary (rows: LoginFloodRow[], brokers: string[]): string {
  const median = (values: number[]): number => {
    const sorted = [...values].sort((x, y) => x - y)
    return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]!
  }
  const lines = ['broker                              phase   p50 ms   p99 ms   max ms  msgs  lost  broker CPU %  flood: checked / 429 / 503']
  for (const broker of brokers) {
    for (const phase of ['idle', 'flood'] as const) {
      const of = rows.filter((r) => r.broker === broker && r.phase === phase)
      const flood = of.map((r) => r.flood).filter((f): f is FloodAnswers => f !== undefined)
      lines.push([
        broker.padEnd(35), phase.padEnd(6),
        median(of.map((r) => r.latencyMs.p50)).toFixed(1).padStart(7), median(of.map((r) => r.latencyMs.p99)).toFixed(1).padStart(8),
        median(of.map((r) => r.latencyMs.max)).toFixed(1).padStart(8), String(median(of.map((r) => r.latencyMs.count))).padStart(5),
        String(of.reduce((s, r) => s + r.lost, 0)).padStart(5), fmt(median(of.map((r) => r.brokerCpuPercent ?? NaN))).padStart(13),
        flood.length === 0 ? '' : `  ${median(flood.map((f) => f.checked))} / ${median(flood.map((f) => f.rateLimited))} / ${median(flood.map((f) => f.busy))}`
      ].join(' '))
    }
    const p99 = (phase: Phase): number => median(rows.filter((r) => r.broker === broker && r.phase === phase).map((r) => r.latencyMs.p99))
    const bound = Math.max(2 * p99('idle'), 100)
    lines.push(`${''.padEnd(35)} flood p99 ÷ idle p99: ${(p99('flood') / p99('idle')).toFixed(1)}× — ${p99('flood') <= bound ? 'within' : 'OVER'} max(2 × idle, 100 ms) = ${bound.toFixed(0)} ms`)
  }
  lines.push('', 'Medians over the rounds (lost: summed). Latency: send → the other user\'s msg event. checked = 401 (an argon2 hash each).')
  return lines.join('\n')
}

function fmt (value: number | null): string {
  return value === null || Number.isNaN(value) ? 'n/a' : value.toFixed(0)
}
