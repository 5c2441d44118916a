/**
 * One comparison relay run against one broker: the pool's pairs connect, a warm-up phase runs to
 * completion (excluded from every figure but loss), then the measured phase, with the broker's CPU
 * read from /proc around it and its RSS sampled throughout. The same code measures every target.
 */
import { performance } from 'node:perf_hooks'
import { sleep } from './clients.js'
import type { LoadPool } from './load-pool.js'
import { RssSampler, cpuSeconds, machineBusySeconds } from './proc.js'
import { summarise, type DeliveryFigures } from './stats.js'
import type { Target, TargetName, Transport } from './targets.js'

export interface LeanRelayOptions {
  transport: Transport
  qos: 0 | 1
  /** publisher → subscriber pairs */
  clients: number
  messages: number
  warmup: number
  window: number
  payloadBytes: number
  round: number
  stallMs?: number
}

export interface LeanRelayRow extends DeliveryFigures {
  target: TargetName
  transport: Transport
  qos: 0 | 1
  round: number
  broker: { cpuSeconds: number | null, cpuPercentOfOneCore: number | null, peakRssBytes: number | null }
  /** each load process over the measured phase, % of one core */
  loadCpuPercent: number[]
  /**
   * everything else the machine ran during the measured phase (other processes, other containers
   * on the same host), % of one core: well above 0, the run shared its cores with something else
   */
  otherCpuPercent: number | null
}

const LATE_DUPLICATE_GRACE_MS = 250

export async function runLeanRelay (pool: LoadPool, target: Target, options: LeanRelayOptions): Promise<LeanRelayRow> {
  const rss = new RssSampler(target.pid)
  const stallMs = options.stallMs ?? 10_000
  try {
    await pool.connect({
      url: target.url(options.transport),
      qos: options.qos,
      payloadBytes: options.payloadBytes,
      window: options.window,
      idPrefix: `bench-${target.name}-${options.transport}-q${options.qos}-${process.pid}`
    }, options.clients)
    await pool.runPhase(0, options.warmup, false, stallMs)
    const cpuBefore = cpuSeconds(target.pid)
    const machineBefore = machineBusySeconds()
    const ownBefore = process.cpuUsage()
    const startedAt = performance.now()
    const measured = await pool.runPhase(1, options.messages, true, stallMs)
    const cpuAfter = cpuSeconds(target.pid)
    const machineAfter = machineBusySeconds()
    const own = process.cpuUsage(ownBefore)
    const wallSeconds = (performance.now() - startedAt) / 1000
    await sleep(LATE_DUPLICATE_GRACE_MS)
    const final = await pool.close()
    const peakRss = rss.stop()
    if (final.unexpected > 0) throw new Error(`${target.name}: ${final.unexpected} message(s) were not ours, or reached the wrong subscriber`)
    // clock-tick resolution (10 ms): rounding removes float noise only
    const brokerCpu = cpuBefore !== undefined && cpuAfter !== undefined ? Math.round((cpuAfter - cpuBefore) * 1000) / 1000 : null
    return {
      target: target.name,
      transport: options.transport,
      qos: options.qos,
      round: options.round,
      messages: options.messages,
      delivered: measured.delivered,
      messagesPerSecond: measured.durationSeconds > 0 ? measured.delivered / measured.durationSeconds : 0,
      latencyMs: summarise(measured.latencies),
      lost: final.phases.reduce((sum, p) => sum + p.expected - p.delivered, 0),
      duplicates: final.phases.reduce((sum, p) => sum + p.duplicates, 0),
      broker: {
        cpuSeconds: brokerCpu,
        cpuPercentOfOneCore: brokerCpu === null ? null : (brokerCpu / wallSeconds) * 100,
        peakRssBytes: peakRss ?? null
      },
      loadCpuPercent: measured.loadCpuPercent,
      otherCpuPercent: machineBefore === undefined || machineAfter === undefined || brokerCpu === null
        ? null
        : Math.max(0, (machineAfter - machineBefore - brokerCpu - measured.loadCpuSeconds - (own.user + own.system) / 1e6) / wallSeconds * 100)
    }
  } catch (err) {
    await pool.close().catch(() => undefined)
    throw err
  } finally {
    rss.stop()
  }
}
