/**
 * QoS 1 relay: N publishers each paired with one subscriber on its own topic `bench/relay/<i>`.
 * Every publisher keeps at most `window` messages unacknowledged (no PUBACK yet), so the broker
 * runs at a steady, bounded load instead of buffering an unbounded burst. Each payload carries
 * who sent it, which phase, a sequence number and the send time (`performance.now()`, read by the
 * subscriber in the same process), which gives end-to-end latency, losses and duplicates.
 *
 * A warm-up phase runs first and is waited for in full; the measured phase starts only then, so
 * JIT warm-up, connection set-up and first-allocation costs stay out of the figures.
 *
 * Payload layout (little-endian): u16 publisher | u16 phase | u32 seq | f64 sentAt (ms) | zeros.
 */
import { performance } from 'node:perf_hooks'
import type { MqttClient } from 'mqtt'
import { closeClients, connectClient, sleep, split } from './clients.js'
import type { PhaseHooks } from './cpu-meter.js'
import { RssSampler, cpuSeconds } from './proc.js'
import { summarise, type LatencySummary } from './stats.js'

export const HEADER_BYTES = 16

export interface RelayOptions {
  transport: string
  url: string
  /**
   * Several broker nodes (the `cluster` suite): pair i's publisher connects to `urls[i mod N]`,
   * its subscriber to the next node, `urls[(i + 1) mod N]`, so that with N > 1 every message
   * crosses from one node to another. Default: `[url]`.
   */
  urls?: string[]
  /** the broker process, for CPU and RSS (of several nodes, the first) */
  brokerPid: number
  /** publisher/subscriber pairs */
  clients: number
  /** measured messages, all publishers together */
  messages: number
  /** warm-up messages, all publishers together, excluded from every figure but loss */
  warmup: number
  /** unacknowledged QoS 1 messages allowed per publisher */
  window: number
  payloadBytes: number
  /** a phase with no delivery and no PUBACK for this long is over; what is missing is lost */
  stallMs?: number
  /** called right before and right after the measured phase (cpu-meter.ts) */
  phase?: PhaseHooks
}

export interface RelayResult {
  transport: string
  /** measured messages sent */
  messages: number
  /** measured messages delivered once or more */
  delivered: number
  /** messages never delivered, warm-up included (anything above 0 is a failure) */
  lost: number
  /** extra copies received, warm-up included (QoS 1 allows them; they should be rare) */
  duplicates: number
  /** from the first measured send to the last measured delivery */
  durationSeconds: number
  messagesPerSecond: number
  latencyMs: LatencySummary
  broker: { cpuSeconds: number | null, cpuPercentOfOneCore: number | null, peakRssBytes: number | null }
  /** the benchmark's own process during the measured phase: near 100 % means the clients were the bottleneck */
  clientCpuPercentOfOneCore: number
}

const LATE_DUPLICATE_GRACE_MS = 250

interface Pair { index: number, topic: string, publisher: MqttClient, subscriber: MqttClient }

export async function runRelay (options: RelayOptions): Promise<RelayResult> {
  const rss = new RssSampler(options.brokerPid)
  const clients: MqttClient[] = []
  const errors: Error[] = []
  const phases: Phase[] = []
  let unexpected = 0
  try {
    const pairs = await Promise.all(Array.from({ length: options.clients }, async (_, index): Promise<Pair> => {
      const topic = `bench/relay/${index}`
      const id = `bench-${options.transport}-${process.pid}-${index}`
      const urls = options.urls ?? [options.url]
      const [publisher, subscriber] = await Promise.all([
        connectClient(urls[index % urls.length]!, { clientId: `${id}-pub` }, errors),
        connectClient(urls[(index + 1) % urls.length]!, { clientId: `${id}-sub` }, errors)
      ])
      clients.push(publisher, subscriber)
      const granted = await subscriber.subscribeAsync(topic, { qos: 1 })
      if (granted[0]?.qos !== 1) throw new Error(`subscription to ${topic} refused (granted ${String(granted[0]?.qos)})`)
      subscriber.on('message', (_topic, payload) => {
        // A late copy of a warm-up message still counts against the warm-up phase.
        const phase = payload.length >= HEADER_BYTES ? phases[payload.readUInt16LE(2)] : undefined
        if (!phase?.receive(index, payload)) unexpected++
      })
      return { index, topic, publisher, subscriber }
    }))

    const run = async (total: number, latencies?: Float64Array): Promise<Phase> => {
      const phase = new Phase(phases.length, split(total, pairs.length), latencies)
      phases.push(phase)
      await phase.execute(pairs, options, errors)
      return phase
    }

    const warm = await run(options.warmup)
    const latencies = new Float64Array(options.messages)
    const cpuBefore = cpuSeconds(options.brokerPid)
    const clientBefore = process.cpuUsage()
    options.phase?.begin()
    const measured = await run(options.messages, latencies)
    options.phase?.end()
    const cpuAfter = cpuSeconds(options.brokerPid)
    const clientCpu = process.cpuUsage(clientBefore)
    const wallSeconds = (performance.now() - measured.startedAt) / 1000
    await sleep(LATE_DUPLICATE_GRACE_MS)
    const peakRss = rss.stop()
    if (unexpected > 0) throw new Error(`${unexpected} message(s) arrived on the wrong topic or with a bad payload`)

    const durationSeconds = (measured.lastDeliveryAt - measured.startedAt) / 1000
    // clock-tick resolution (10 ms): rounding removes float noise only
    const brokerCpu = cpuBefore !== undefined && cpuAfter !== undefined ? Math.round((cpuAfter - cpuBefore) * 1000) / 1000 : null
    return {
      transport: options.transport,
      messages: options.messages,
      delivered: measured.delivered,
      lost: warm.expected - warm.delivered + measured.expected - measured.delivered,
      duplicates: warm.duplicates + measured.duplicates,
      durationSeconds,
      messagesPerSecond: durationSeconds > 0 ? measured.delivered / durationSeconds : 0,
      latencyMs: summarise(latencies, measured.delivered),
      broker: {
        cpuSeconds: brokerCpu,
        cpuPercentOfOneCore: brokerCpu === null ? null : (brokerCpu / wallSeconds) * 100,
        peakRssBytes: peakRss ?? null
      },
      clientCpuPercentOfOneCore: ((clientCpu.user + clientCpu.system) / 1e6 / wallSeconds) * 100
    }
  } finally {
    rss.stop()
    await closeClients(clients)
  }
}

/** One phase (warm-up or measured): every publisher sends its share; every delivery is checked off. */
class Phase {
  readonly expected: number
  delivered = 0
  duplicates = 0
  startedAt = 0
  lastDeliveryAt = 0
  readonly #seen: Uint8Array[]
  #lastProgressAt = 0
  #onComplete: (() => void) | undefined

  constructor (readonly id: number, readonly counts: number[], readonly latencies?: Float64Array) {
    this.expected = counts.reduce((a, b) => a + b, 0)
    this.#seen = counts.map((count) => new Uint8Array(count))
  }

  /** Records one message received by subscriber `index`; false if it is not one of ours. */
  receive (index: number, payload: Buffer): boolean {
    const seen = this.#seen[index]
    const seq = payload.readUInt32LE(4)
    if (payload.readUInt16LE(0) !== index || seen === undefined || seq >= seen.length) return false
    if (seen[seq] === 1) {
      this.duplicates++
      return true
    }
    seen[seq] = 1
    const now = performance.now()
    this.delivered++
    this.lastDeliveryAt = this.#lastProgressAt = now
    if (this.latencies) this.latencies[this.delivered - 1] = now - payload.readDoubleLE(8)
    if (this.delivered === this.expected) this.#onComplete?.()
    return true
  }

  /**
   * Resolves once every message is delivered and acknowledged, or once nothing has moved for
   * `stallMs` (what is missing then is lost); rejects on a client error.
   */
  execute (pairs: Pair[], options: RelayOptions, errors: Error[]): Promise<void> {
    const stallMs = options.stallMs ?? 10_000
    return new Promise((resolve, reject) => {
      let publishersDone = 0
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
        if (errors.length > 0) finish(errors[0])
        else if (this.delivered === this.expected && publishersDone === pairs.length) finish()
        else if (performance.now() - this.#lastProgressAt > stallMs) finish()
      }
      const timer = setInterval(check, 100)
      this.#onComplete = check
      this.startedAt = this.#lastProgressAt = performance.now()
      for (const pair of pairs) {
        const onAck = (): void => { this.#lastProgressAt = performance.now() }
        publishWindowed(pair, this.id, this.counts[pair.index] ?? 0, options, onAck)
          .then(() => { publishersDone++; check() }, finish)
      }
    })
  }
}

/** Sends `count` QoS 1 messages, never more than `options.window` without their PUBACK. */
function publishWindowed (pair: Pair, phase: number, count: number, options: RelayOptions, onAck: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (count === 0) return resolve()
    let sent = 0
    let acked = 0
    const pump = (): void => {
      while (sent - acked < options.window && sent < count) {
        const payload = Buffer.alloc(options.payloadBytes)
        payload.writeUInt16LE(pair.index, 0)
        payload.writeUInt16LE(phase, 2)
        payload.writeUInt32LE(sent++, 4)
        payload.writeDoubleLE(performance.now(), 8)
        pair.publisher.publish(pair.topic, payload, { qos: 1 }, (err) => {
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
