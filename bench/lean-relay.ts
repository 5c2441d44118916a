/**
 * The relay load of one load process (load-worker.ts), on the lean client: publisher → subscriber
 * pairs, pair i on topic `bench/relay/<i>`, subscribed at the run's QoS. The publisher of a pair
 * and its subscriber live in the same process, so a message's send time and its arrival are read
 * on one clock, and the publisher knows what its subscriber received.
 *
 * Closed loop: a publisher keeps at most `window` messages that are not yet both acknowledged
 * (PUBACK, QoS 1) and delivered to its subscriber — at QoS 0, not yet delivered. So no broker is
 * ever asked to buffer more than `window` messages per pair, whatever it acknowledges early
 * (Mosquitto sends PUBACK on receipt, aedes once the message is routed).
 *
 * Payload (little-endian), as relay.ts: u16 pair | u16 phase | u32 seq | f64 sent at (this
 * process's `performance.now()`) | zeros. Every copy is checked off by (pair, phase, seq), so losses
 * and duplicates are exact; a late copy of an earlier phase counts against that phase.
 */
import { performance } from 'node:perf_hooks'
import type { IPublishPacket } from 'mqtt-packet'
import { LeanClient, PublishEncoder } from './lean-client.js'
import { HEADER_BYTES } from './relay.js'

export interface RelaySetup {
  url: string
  qos: 0 | 1
  payloadBytes: number
  window: number
  /** the global indexes of the pairs this process runs */
  pairs: number[]
  /** makes client ids unique across processes and runs */
  idPrefix: string
}

export interface PhaseReport {
  expected: number
  delivered: number
  /** epoch milliseconds (`performance.timeOrigin + now()`), comparable between load processes */
  startedAt: number
  lastDeliveryAt: number
  /** one per measured delivery, in milliseconds (empty for an unmeasured phase) */
  latencies: Float64Array
  /** this process's CPU time during the phase, and the phase's wall time */
  cpuSeconds: number
  wallSeconds: number
}

/** Every phase's final counts, taken at the end of the run (late duplicates included). */
export interface FinalCounts {
  phases: Array<{ expected: number, delivered: number, duplicates: number }>
  /** copies that were not ours, or reached the wrong subscriber: a failure */
  unexpected: number
}

interface Pair { slot: number, index: number, topic: string, publisher: LeanClient, subscriber: LeanClient, encoder: PublishEncoder }

export class RelayPairs {
  readonly #setup: RelaySetup
  readonly #pairs: Pair[] = []
  readonly #phases: Phase[] = []
  #current: Phase | undefined
  #failure: Error | undefined
  #unexpected = 0

  private constructor (setup: RelaySetup) {
    this.#setup = setup
  }

  static async connect (setup: RelaySetup): Promise<RelayPairs> {
    const relay = new RelayPairs(setup)
    try {
      await Promise.all(setup.pairs.map((index, slot) => relay.#connectPair(index, slot)))
    } catch (err) {
      relay.#destroy()
      throw err
    }
    return relay
  }

  /** Runs one phase: pair `slot` sends `counts[slot]` messages. Resolves when all are delivered (and acknowledged), or nothing moved for `stallMs`. */
  async runPhase (id: number, counts: number[], measure: boolean, stallMs: number): Promise<PhaseReport> {
    if (this.#failure) throw this.#failure
    const phase = new Phase(id, counts, measure, this.#setup)
    this.#phases[id] = phase
    this.#current = phase
    const cpu = process.cpuUsage()
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (this.#failure) done(this.#failure)
        else if (phase.complete() || performance.now() - phase.lastProgressAt > stallMs) done()
      }, 20)
      const done = (err?: Error): void => {
        clearInterval(timer)
        phase.onComplete = undefined
        if (err) reject(err)
        else resolve()
      }
      phase.onComplete = () => done()
      phase.start(this.#pairs)
      if (phase.complete()) done()
    })
    const used = process.cpuUsage(cpu)
    const endedAt = performance.now()
    return {
      expected: phase.expected,
      delivered: phase.delivered,
      startedAt: performance.timeOrigin + phase.startedAt,
      lastDeliveryAt: performance.timeOrigin + phase.lastDeliveryAt,
      latencies: phase.latencies.slice(0, measure ? phase.delivered : 0),
      cpuSeconds: (used.user + used.system) / 1e6,
      wallSeconds: (endedAt - phase.startedAt) / 1000
    }
  }

  /** Disconnects every client; returns the final counts of every phase. */
  async close (): Promise<FinalCounts> {
    const clients = this.#pairs.flatMap((p) => [p.publisher, p.subscriber])
    await Promise.all(clients.map((c) => c.disconnect()))
    return {
      phases: this.#phases.map((p) => ({ expected: p.expected, delivered: p.delivered, duplicates: p.duplicates })),
      unexpected: this.#unexpected
    }
  }

  async #connectPair (index: number, slot: number): Promise<void> {
    const { url, qos, payloadBytes, idPrefix } = this.#setup
    const topic = `bench/relay/${index}`
    const lost = (err: Error): void => { this.#failure ??= err }
    const options = { clean: true, keepalive: 60 }
    const [publisher, subscriber] = await Promise.allSettled([
      LeanClient.connect(url, { ...options, clientId: `${idPrefix}-${index}-pub` }, { lost, puback: () => this.#current?.acked(slot) }),
      LeanClient.connect(url, { ...options, clientId: `${idPrefix}-${index}-sub` }, { lost, publish: (packet) => this.#receive(slot, index, packet) })
    ])
    if (publisher.status === 'rejected' || subscriber.status === 'rejected') {
      if (publisher.status === 'fulfilled') publisher.value.destroy()
      if (subscriber.status === 'fulfilled') subscriber.value.destroy()
      throw publisher.status === 'rejected' ? publisher.reason : (subscriber as PromiseRejectedResult).reason
    }
    this.#pairs[slot] = { slot, index, topic, publisher: publisher.value, subscriber: subscriber.value, encoder: new PublishEncoder(topic, qos, payloadBytes) }
    const granted = await subscriber.value.subscribe(topic, qos)
    if (granted !== qos) throw new Error(`subscription to ${topic} at QoS ${qos} refused (granted ${granted})`)
  }

  #receive (slot: number, index: number, packet: IPublishPacket): void {
    const payload = packet.payload as Buffer
    const phase = payload.length >= HEADER_BYTES && payload.readUInt16LE(0) === index ? this.#phases[payload.readUInt16LE(2)] : undefined
    if (!phase?.receive(slot, payload.readUInt32LE(4), payload.readDoubleLE(8))) this.#unexpected++
  }

  #destroy (): void {
    for (const pair of this.#pairs) {
      pair?.publisher.destroy()
      pair?.subscriber.destroy()
    }
  }
}

/** One phase (warm-up or measured) of this process's pairs. */
class Phase {
  readonly expected: number
  delivered = 0
  duplicates = 0
  startedAt = 0
  lastDeliveryAt = 0
  lastProgressAt = 0
  readonly latencies: Float64Array
  onComplete: (() => void) | undefined
  readonly #sent: number[]
  readonly #acked: number[]
  readonly #received: number[]
  readonly #seen: Uint8Array[]
  #ackedTotal = 0
  #pairs: Pair[] = []

  constructor (readonly id: number, readonly counts: number[], measure: boolean, readonly setup: RelaySetup) {
    this.expected = counts.reduce((a, b) => a + b, 0)
    this.latencies = new Float64Array(measure ? this.expected : 0)
    this.#sent = counts.map(() => 0)
    this.#acked = counts.map(() => 0)
    this.#received = counts.map(() => 0)
    this.#seen = counts.map((count) => new Uint8Array(count))
  }

  complete (): boolean {
    return this.delivered === this.expected && (this.setup.qos === 0 || this.#ackedTotal === this.expected)
  }

  start (pairs: Pair[]): void {
    this.#pairs = pairs
    this.startedAt = this.lastProgressAt = performance.now()
    for (const pair of pairs) this.#pump(pair.slot)
  }

  acked (slot: number): void {
    // a PUBACK belongs to the phase in progress: phases do not overlap
    if ((this.#acked[slot] as number) >= (this.#sent[slot] as number)) return
    this.#acked[slot]!++
    this.#ackedTotal++
    this.lastProgressAt = performance.now()
    this.#pump(slot)
    if (this.complete()) this.onComplete?.()
  }

  /** Records one copy; false when it cannot be one of this phase's messages for this pair. */
  receive (slot: number, seq: number, sentAt: number): boolean {
    const seen = this.#seen[slot]
    if (seen === undefined || seq >= seen.length) return false
    if (seen[seq] === 1) {
      this.duplicates++
      return true
    }
    seen[seq] = 1
    const now = performance.now()
    if (this.delivered < this.latencies.length) this.latencies[this.delivered] = now - sentAt
    this.delivered++
    this.#received[slot]!++
    this.lastDeliveryAt = this.lastProgressAt = now
    this.#pump(slot)
    if (this.complete()) this.onComplete?.()
    return true
  }

  /** Sends while the pair has fewer than `window` messages not yet both acknowledged and delivered. */
  #pump (slot: number): void {
    const pair = this.#pairs[slot]
    const count = this.counts[slot] as number
    if (pair === undefined) return
    const { window, qos } = this.setup
    let sent = this.#sent[slot] as number
    const settled = (): number => qos === 0 ? this.#received[slot] as number : Math.min(this.#acked[slot] as number, this.#received[slot] as number)
    while (sent < count && sent - settled() < window) {
      const packet = pair.encoder.encode(pair.publisher.nextMessageId())
      const at = pair.encoder.payloadOffset
      packet.writeUInt16LE(pair.index, at)
      packet.writeUInt16LE(this.id, at + 2)
      packet.writeUInt32LE(sent, at + 4)
      packet.writeDoubleLE(performance.now(), at + 8)
      pair.publisher.send(packet)
      sent++
      this.#sent[slot] = sent
    }
  }
}
