/**
 * The measuring engine of the fan-out runs (IM direct and group, plain group relay): senders each
 * keep at most `window` messages without their PUBACK; every message must reach a given set of
 * receivers — and, where the protocol sends it back, the sender itself (the echo) — and each copy
 * is checked off, by (sender, phase, seq), for each receiver. What a message looks like on the wire
 * is the codec's business, so a plain MQTT relay and the IM pipeline are measured under the same
 * rules, with the same clock, window, warm-up and loss accounting as `relay.ts`.
 *
 * Latency is taken at each recipient: one sample per delivery (a group message gives G−1). Echoes
 * are checked for loss like any delivery but timed and counted apart, since they are the sender's
 * acknowledgement rather than a delivery to someone else.
 */
import { performance } from 'node:perf_hooks'
import type { MqttClient } from 'mqtt'
import { closeClients, sleep, split } from './clients.js'
import type { PhaseHooks } from './cpu-meter.js'
import { RssSampler, cpuSeconds, rssBytes } from './proc.js'
import { summarise, type LatencySummary } from './stats.js'

export interface Sender {
  client: MqttClient
  topic: string
  /** receivers (indexes into `Workload.receivers`) that must get each message, the sender excluded */
  recipients: number[]
  /** the receiver index of the sender's own connection when its messages come back to it */
  echo?: number
}

export type Decoded =
  /** `id`: the server's id of the message, the same for every copy ('' when the protocol has none) */
  | { kind: 'message', phase: number, sender: number, seq: number, sentAt: number, id: string }
  /** the server refused a message: the run stops */
  | { kind: 'error', detail: string }
  /** an event the run does not measure (presence, conversation…) */
  | { kind: 'other' }
  /** not one of ours */
  | { kind: 'bad' }

export interface Codec {
  encode (sender: number, phase: number, seq: number, sentAt: number): string | Buffer
  decode (payload: Buffer): Decoded
}

export interface Workload {
  /** every subscribed connection, sender connections included */
  receivers: MqttClient[]
  senders: Sender[]
  codec: Codec
}

export interface WorkloadOptions {
  /** `im direct`, `relay group`… */
  run: string
  transport: string
  brokerPid: number
  /** measured messages sent, all senders together */
  messages: number
  /** warm-up messages, excluded from every figure but loss */
  warmup: number
  /** unacknowledged QoS 1 messages allowed per sender */
  window: number
  /** connects and subscribes everything; clients already connected when it throws must be in `opened` */
  connect (errors: Error[], opened: MqttClient[]): Promise<Workload>
  /** a phase with no delivery and no PUBACK for this long is over; what is missing is lost */
  stallMs?: number
  /** called right before and right after the measured phase (cpu-meter.ts) */
  phase?: PhaseHooks
}

export interface WorkloadResult {
  run: string
  transport: string
  /** measured messages sent */
  messages: number
  /** measured deliveries expected: messages × recipients (echoes not included) */
  expected: number
  /** measured deliveries received once or more */
  delivered: number
  /** deliveries and echoes never received, warm-up included (anything above 0 is a failure) */
  lost: number
  /** extra copies received, echoes and warm-up included */
  duplicates: number
  /** copies of one message that carried different server ids (a message stored twice): a failure */
  idMismatches: number
  /** from the first measured send to the last measured delivery */
  durationSeconds: number
  /** measured deliveries per second */
  messagesPerSecond: number
  latencyMs: LatencySummary
  echoes: { expected: number, received: number, latencyMs: LatencySummary }
  broker: { cpuSeconds: number | null, cpuPercentOfOneCore: number | null, rssAtStartBytes: number | null, peakRssBytes: number | null }
  clientCpuPercentOfOneCore: number
}

const LATE_DUPLICATE_GRACE_MS = 250

export async function runWorkload (options: WorkloadOptions): Promise<WorkloadResult> {
  const rssAtStart = rssBytes(options.brokerPid)
  const rss = new RssSampler(options.brokerPid)
  const opened: MqttClient[] = []
  const errors: Error[] = []
  const refusals: string[] = []
  const phases: Phase[] = []
  let unexpected = 0
  try {
    const workload = await options.connect(errors, opened)
    const { senders, codec } = workload
    workload.receivers.forEach((client, receiver) => {
      client.on('message', (_topic, payload) => {
        const decoded = codec.decode(payload)
        switch (decoded.kind) {
          case 'message': {
            // A late copy of a warm-up message still counts against the warm-up phase.
            if (!phases[decoded.phase]?.receive(receiver, decoded)) unexpected++
            return
          }
          case 'error': refusals.push(decoded.detail); return
          case 'other': return
          case 'bad': unexpected++
        }
      })
    })
    const failure = (): Error | undefined => errors[0] ?? (refusals.length > 0
      ? new Error(`the server refused ${refusals.length} message(s); first: ${refusals[0]}`)
      : undefined)

    const run = async (total: number, latencies?: Float64Array, echoLatencies?: Float64Array): Promise<Phase> => {
      const phase = new Phase(phases.length, senders, split(total, senders.length), latencies, echoLatencies)
      phases.push(phase)
      await phase.execute(codec, options, failure)
      return phase
    }

    const warm = await run(options.warmup)
    const perMessage = senders.map((s) => s.recipients.length)
    const counts = split(options.messages, senders.length)
    const expected = counts.reduce((sum, count, i) => sum + count * (perMessage[i] ?? 0), 0)
    const echoCount = counts.reduce((sum, count, i) => sum + (senders[i]?.echo === undefined ? 0 : count), 0)
    const latencies = new Float64Array(expected)
    const echoLatencies = new Float64Array(echoCount)
    const cpuBefore = cpuSeconds(options.brokerPid)
    const clientBefore = process.cpuUsage()
    options.phase?.begin()
    const measured = await run(options.messages, latencies, echoLatencies)
    options.phase?.end()
    const cpuAfter = cpuSeconds(options.brokerPid)
    const clientCpu = process.cpuUsage(clientBefore)
    const wallSeconds = (performance.now() - measured.startedAt) / 1000
    await sleep(LATE_DUPLICATE_GRACE_MS)
    const peakRss = rss.stop()
    if (unexpected > 0) throw new Error(`${options.run}: ${unexpected} message(s) were not ours, or reached a connection they were not for`)

    const durationSeconds = (measured.lastDeliveryAt - measured.startedAt) / 1000
    // clock-tick resolution (10 ms): rounding removes float noise only
    const brokerCpu = cpuBefore !== undefined && cpuAfter !== undefined ? Math.round((cpuAfter - cpuBefore) * 1000) / 1000 : null
    return {
      run: options.run,
      transport: options.transport,
      messages: options.messages,
      expected: measured.expected,
      delivered: measured.delivered,
      lost: warm.missing + measured.missing,
      duplicates: warm.duplicates + measured.duplicates,
      idMismatches: warm.idMismatches + measured.idMismatches,
      durationSeconds,
      messagesPerSecond: durationSeconds > 0 ? measured.delivered / durationSeconds : 0,
      latencyMs: summarise(latencies, measured.delivered),
      echoes: { expected: measured.expectedEchoes, received: measured.echoed, latencyMs: summarise(echoLatencies, measured.echoed) },
      broker: {
        cpuSeconds: brokerCpu,
        cpuPercentOfOneCore: brokerCpu === null ? null : (brokerCpu / wallSeconds) * 100,
        rssAtStartBytes: rssAtStart ?? null,
        peakRssBytes: peakRss ?? null
      },
      clientCpuPercentOfOneCore: ((clientCpu.user + clientCpu.system) / 1e6 / wallSeconds) * 100
    }
  } finally {
    rss.stop()
    await closeClients(opened)
  }
}

type Message = Extract<Decoded, { kind: 'message' }>

/** One phase (warm-up or measured): every sender sends its share; every copy is checked off. */
class Phase {
  readonly expected: number
  readonly expectedEchoes: number
  delivered = 0
  echoed = 0
  duplicates = 0
  idMismatches = 0
  startedAt = 0
  lastDeliveryAt = 0
  /** [sender][recipient slot][seq]: 1 once received */
  readonly #seen: Uint8Array[][]
  /** [sender][seq] */
  readonly #echoSeen: Uint8Array[]
  /** [sender][seq]: the server id of the first copy */
  readonly #ids: string[][]
  /** [sender]: receiver index → recipient slot */
  readonly #slots: Array<Map<number, number>>
  #lastProgressAt = 0
  #onComplete: (() => void) | undefined

  constructor (
    readonly id: number,
    readonly senders: Sender[],
    readonly counts: number[],
    readonly latencies?: Float64Array,
    readonly echoLatencies?: Float64Array
  ) {
    this.#seen = senders.map((s, i) => s.recipients.map(() => new Uint8Array(counts[i] ?? 0)))
    this.#echoSeen = senders.map((s, i) => new Uint8Array(s.echo === undefined ? 0 : counts[i] ?? 0))
    this.#ids = senders.map(() => [])
    this.#slots = senders.map((s) => new Map(s.recipients.map((receiver, slot) => [receiver, slot])))
    this.expected = senders.reduce((sum, s, i) => sum + s.recipients.length * (counts[i] ?? 0), 0)
    this.expectedEchoes = this.#echoSeen.reduce((sum, seen) => sum + seen.length, 0)
  }

  get missing (): number {
    return this.expected - this.delivered + this.expectedEchoes - this.echoed
  }

  /** Records one copy received by `receiver`; false when it is not one this receiver should get. */
  receive (receiver: number, m: Message): boolean {
    const sender = this.senders[m.sender]
    const count = this.counts[m.sender] ?? 0
    if (sender === undefined || !Number.isInteger(m.seq) || m.seq < 0 || m.seq >= count) return false
    const isEcho = receiver === sender.echo
    const slot = this.#slots[m.sender]?.get(receiver)
    const seen = isEcho ? this.#echoSeen[m.sender] : slot === undefined ? undefined : this.#seen[m.sender]?.[slot]
    if (seen === undefined) return false
    if (m.id !== '') {
      const ids = this.#ids[m.sender] as string[]
      const first = ids[m.seq]
      if (first === undefined) ids[m.seq] = m.id
      else if (first !== m.id) this.idMismatches++
    }
    if (seen[m.seq] === 1) {
      this.duplicates++
      return true
    }
    seen[m.seq] = 1
    const now = performance.now()
    this.#lastProgressAt = now
    if (isEcho) {
      if (this.echoLatencies) this.echoLatencies[this.echoed] = now - m.sentAt
      this.echoed++
    } else {
      if (this.latencies) this.latencies[this.delivered] = now - m.sentAt
      this.delivered++
      this.lastDeliveryAt = now
    }
    if (this.missing === 0) this.#onComplete?.()
    return true
  }

  /**
   * Resolves once every copy is received and every message acknowledged, or once nothing has
   * moved for `stallMs` (what is missing then is lost); rejects on a client error or a refusal.
   */
  execute (codec: Codec, options: WorkloadOptions, failure: () => Error | undefined): Promise<void> {
    const stallMs = options.stallMs ?? 10_000
    return new Promise((resolve, reject) => {
      let sendersDone = 0
      let finished = false
      const finish = (err?: unknown): void => {
        if (finished) return
        finished = true
        clearInterval(timer)
        this.#onComplete = undefined
        if (err === undefined) resolve()
        else reject(err instanceof Error ? err : new Error(String(err)))
      }
      const check = (): void => {
        const err = failure()
        if (err) finish(err)
        else if (this.missing === 0 && sendersDone === this.senders.length) finish()
        else if (performance.now() - this.#lastProgressAt > stallMs) finish()
      }
      const timer = setInterval(check, 100)
      this.#onComplete = check
      this.startedAt = this.#lastProgressAt = performance.now()
      this.senders.forEach((sender, index) => {
        const onAck = (): void => { this.#lastProgressAt = performance.now() }
        sendWindowed(sender, (seq) => codec.encode(index, this.id, seq, performance.now()), this.counts[index] ?? 0, options.window, onAck)
          .then(() => { sendersDone++; check() }, finish)
      })
    })
  }
}

/** Publishes `count` QoS 1 messages, never more than `window` without their PUBACK. */
function sendWindowed (sender: Sender, encode: (seq: number) => string | Buffer, count: number, window: number, onAck: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (count === 0) return resolve()
    let sent = 0
    let acked = 0
    const pump = (): void => {
      while (sent - acked < window && sent < count) {
        sender.client.publish(sender.topic, encode(sent++), { qos: 1 }, (err) => {
          if (err) return reject(err)
          acked++
          onAck()
          if (acked === count) resolve()
          else pump()
        })
      }
    }
    pump()
  })
}
