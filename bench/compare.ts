/**
 * The comparison engine (`--vs`, `--suite idle`, `--suite drain`): the same workloads, measured
 * the same way, against this broker and the others asked for, over several rounds. Each round
 * takes the brokers in a rotated order (round 1: A B C, round 2: B C A…), so that whatever else
 * the machine is doing falls on each of them alike; each (broker, transport, suite) gets a fresh
 * process, so that no run inherits another's heap.
 */
import { runLeanRelay, type LeanRelayRow } from './compare-relay.js'
import { runDrain, type DrainRow } from './drain.js'
import { runIdle, type IdleRow } from './idle.js'
import { LoadPool } from './load-pool.js'
import type { BenchOptions } from './options.js'
import { cpuPerMessage } from './compare-report.js'
import { startTarget, survivesRestart, targetMissing, type Target, type TargetName, type TargetOptions, type Transport } from './targets.js'

export interface ComparisonResults {
  /** the brokers measured, this one first */
  targets: TargetName[]
  relay: LeanRelayRow[]
  idle: IdleRow[]
  drain: DrainRow[]
  /** one line per broker or run left out, and why */
  skipped: string[]
}

type CompareSuite = 'relay' | 'idle' | 'drain'

export async function runComparison (options: BenchOptions): Promise<ComparisonResults> {
  const results: ComparisonResults = { targets: [], relay: [], idle: [], drain: [], skipped: [] }
  const skip = (line: string): void => {
    if (results.skipped.includes(line)) return
    results.skipped.push(line)
    console.log(`skipped: ${line}`)
  }
  for (const name of ['mqtt-im', ...options.vs] as TargetName[]) {
    const missing = targetMissing(name)
    if (missing) skip(`${name} — ${missing}`)
    else results.targets.push(name)
  }
  const suites = options.suites.filter((s): s is CompareSuite => s !== 'im')
  // One bound for every target and suite: at least the defaults, at least a drain's worth.
  const targetOptions = (suite: CompareSuite): TargetOptions => ({
    persistent: suite === 'drain' && options.kill,
    queueLimit: Math.max(1000, options.window, options.drainMessages)
  })
  const pool = suites.includes('relay') ? await LoadPool.start(options.loadProcs) : undefined
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const order = rotate(results.targets, round - 1)
      console.log(`round ${round}/${options.rounds}: ${order.join(', ')}`)
      for (const name of order) {
        for (const transport of options.transports) {
          for (const suite of suites) {
            const cannot = suite === 'drain' && options.kill ? survivesRestart(name) : undefined
            if (cannot) { skip(`${name} drain --kill — ${cannot}`); continue }
            const target = await startTarget(name, targetOptions(suite))
            try {
              await runSuite(suite, target, transport, round, options, pool, results)
            } finally {
              await target.stop()
            }
          }
        }
      }
    }
  } finally {
    await pool?.stop()
  }
  return results
}

async function runSuite (suite: CompareSuite, target: Target, transport: Transport, round: number, options: BenchOptions, pool: LoadPool | undefined, results: ComparisonResults): Promise<void> {
  const where = `  ${target.name} ${transport}`
  switch (suite) {
    case 'relay':
      for (const qos of options.qos) {
        const row = await runLeanRelay(pool!, target, {
          transport, qos, round, clients: options.clients, messages: options.messages,
          warmup: options.warmup, window: options.window, payloadBytes: options.payload
        })
        results.relay.push(row)
        const micros = cpuPerMessage(row.broker.cpuSeconds, row.delivered)
        console.log(`${where} relay QoS ${qos}: ${row.messagesPerSecond.toFixed(0)} msg/s, p50 ${row.latencyMs.p50.toFixed(2)} ms, broker ${micros === null ? 'n/a' : micros.toFixed(1)} µs/msg, load ${Math.max(...row.loadCpuPercent).toFixed(0)} % of a core, others ${row.otherCpuPercent === null ? 'n/a' : row.otherCpuPercent.toFixed(0)} %${lossNote(row)}`)
      }
      return
    case 'idle': {
      const row = await runIdle(target, { transport, connections: options.idleConnections, round })
      results.idle.push(row)
      const kb = row.bytesPerConnection === null ? 'n/a' : (row.bytesPerConnection / 1024).toFixed(1)
      console.log(`${where} idle: ${row.connections} connections in ${row.connectSeconds.toFixed(1)} s, ${kb} KB each`)
      return
    }
    case 'drain': {
      const row = await runDrain(target, { transport, round, messages: options.drainMessages, window: options.window, payloadBytes: options.payload, kill: options.kill, killDelayMs: options.killDelayMs })
      results.drain.push(row)
      console.log(`${where} drain${row.kill ? ' --kill' : ''}: ${row.received} of ${row.messages} in ${row.drainSeconds.toFixed(2)} s (${row.messagesPerSecond.toFixed(0)} msg/s)${lossNote(row)}`)
    }
  }
}

function lossNote (row: { lost: number, duplicates: number }): string {
  return row.lost > 0 || row.duplicates > 0 ? ` — ${row.lost} LOST, ${row.duplicates} DUPLICATED` : ''
}

function rotate<T> (items: T[], by: number): T[] {
  const n = items.length
  return n === 0 ? [] : items.map((_, i) => items[(i + by) % n] as T)
}

export function describeComparison (options: BenchOptions): string {
  const lines = [`mqtt-im comparison — brokers: ${['mqtt-im', ...options.vs].join(', ')}; ${options.rounds} round(s), order rotated each round; transports ${options.transports.join(', ')}`]
  if (options.suites.includes('relay')) {
    lines.push(`  relay: ${options.clients} publisher → subscriber pairs, ${options.messages} measured + ${options.warmup} warm-up messages, QoS ${options.qos.join(' and ')}, window ${options.window} per publisher, ${options.payload} B; lean load clients in ${options.loadProcs} process(es)`)
  }
  if (options.suites.includes('idle')) {
    lines.push(`  idle:  ${options.idleConnections} connections per broker and transport (CONNECT + SUBSCRIBE, then idle)`)
  }
  if (options.suites.includes('drain')) {
    lines.push(`  drain: ${options.drainMessages} QoS 1 messages queued for an offline persistent session, then drained${options.kill ? `; the broker killed (-9) ${options.killDelayMs > 0 ? `${options.killDelayMs} ms after the last PUBACK` : 'right after the last PUBACK'} and restarted` : ''}`)
  }
  return lines.join('\n')
}

/** Nothing is resent in a relay run, and a drain must deliver what was acknowledged: any loss or duplicate is a failure. */
export function comparisonFailures (results: ComparisonResults): string[] {
  const problems = (r: { lost: number, duplicates: number }): string =>
    [r.lost > 0 ? `${r.lost} lost` : '', r.duplicates > 0 ? `${r.duplicates} duplicated` : ''].filter((p) => p !== '').join(', ')
  return [
    ...results.relay.map((r) => [`${r.target} relay QoS ${r.qos} over ${r.transport}, round ${r.round}`, problems(r)]),
    ...results.drain.map((r) => [`${r.target} drain${r.kill ? ' --kill' : ''} over ${r.transport}, round ${r.round}`, problems(r)])
  ].filter(([, p]) => p !== '').map(([what, p]) => `${what}: ${p}`)
}
