/**
 * The comparison's tables: per suite, one row per (broker, transport[, QoS]) with the median of
 * every figure over the rounds (lost and duplicated: summed), then this broker's figures divided by
 * each other broker's, and whether the load generator could have been the limit.
 */
import type { ComparisonResults } from './compare.js'
import type { LeanRelayRow } from './compare-relay.js'
import type { DrainRow } from './drain.js'
import type { IdleRow } from './idle.js'
import { MB, ms, orNa, ratio, table, times, type Column } from './report.js'
import { TARGETS, type TargetName } from './targets.js'

/** a load process above this share of one core may have limited the figures */
export const LOAD_SATURATED_PERCENT = 80
/** above this share of one core used by other processes, a run's figures were disturbed */
export const OTHER_BUSY_PERCENT = 20
const THIS: TargetName = 'mqtt-im'

/** Broker CPU time per message, in microseconds; null when unknown, or below one clock tick (10 ms) in all. */
export function cpuPerMessage (cpuSeconds: number | null, messages: number): number | null {
  return cpuSeconds === null || cpuSeconds <= 0 || messages === 0 ? null : (cpuSeconds / messages) * 1e6
}

/** Median of the known values (null when none). */
export function median (values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b)
  if (known.length === 0) return null
  const mid = Math.floor(known.length / 2)
  return known.length % 2 === 1 ? known[mid] as number : ((known[mid - 1] as number) + (known[mid] as number)) / 2
}

export interface RelaySummary {
  target: TargetName
  transport: string
  qos: number
  rounds: number
  messagesPerSecond: number | null
  minMessagesPerSecond: number
  maxMessagesPerSecond: number
  p50: number | null
  p99: number | null
  brokerMicrosPerMessage: number | null
  brokerCpuPercent: number | null
  brokerPeakRssBytes: number | null
  /** the busiest load process of each round, median and highest */
  loadCpuPercent: number | null
  maxLoadCpuPercent: number
  /** what else ran on the machine, % of one core: median and highest */
  otherCpuPercent: number | null
  maxOtherCpuPercent: number | null
  lost: number
  duplicates: number
}

export interface IdleSummary {
  target: TargetName, transport: string, connections: number, rounds: number
  rssBeforeBytes: number | null, rssAfterBytes: number | null, bytesPerConnection: number | null
  connectSeconds: number | null, brokerMicrosPerConnection: number | null, benchCpuPercent: number | null
}

export interface DrainSummary {
  target: TargetName, transport: string, kill: boolean, messages: number, rounds: number
  publishSeconds: number | null, restartSeconds: number | null, sessionPresent: string
  drainSeconds: number | null, messagesPerSecond: number | null, brokerMicrosPerMessage: number | null, brokerPeakRssBytes: number | null
  lost: number, duplicates: number
}

export function summariseRelay (rows: LeanRelayRow[]): RelaySummary[] {
  return groups(rows, (r) => `${r.target}|${r.transport}|${r.qos}`).map((g) => {
    const first = g[0] as LeanRelayRow
    const rates = g.map((r) => r.messagesPerSecond)
    const load = g.map((r) => Math.max(...r.loadCpuPercent))
    return {
      target: first.target,
      transport: first.transport,
      qos: first.qos,
      rounds: g.length,
      messagesPerSecond: median(rates),
      minMessagesPerSecond: Math.min(...rates),
      maxMessagesPerSecond: Math.max(...rates),
      p50: median(g.map((r) => r.latencyMs.p50)),
      p99: median(g.map((r) => r.latencyMs.p99)),
      brokerMicrosPerMessage: median(g.map((r) => cpuPerMessage(r.broker.cpuSeconds, r.delivered))),
      brokerCpuPercent: median(g.map((r) => r.broker.cpuPercentOfOneCore)),
      brokerPeakRssBytes: median(g.map((r) => r.broker.peakRssBytes)),
      loadCpuPercent: median(load),
      maxLoadCpuPercent: Math.max(...load),
      otherCpuPercent: median(g.map((r) => r.otherCpuPercent)),
      maxOtherCpuPercent: g.every((r) => r.otherCpuPercent === null) ? null : Math.max(...g.map((r) => r.otherCpuPercent ?? 0)),
      lost: sum(g.map((r) => r.lost)),
      duplicates: sum(g.map((r) => r.duplicates))
    }
  })
}

export function summariseIdle (rows: IdleRow[]): IdleSummary[] {
  return groups(rows, (r) => `${r.target}|${r.transport}`).map((g) => ({
    target: (g[0] as IdleRow).target,
    transport: (g[0] as IdleRow).transport,
    connections: (g[0] as IdleRow).connections,
    rounds: g.length,
    rssBeforeBytes: median(g.map((r) => r.rssBeforeBytes)),
    rssAfterBytes: median(g.map((r) => r.rssAfterBytes)),
    bytesPerConnection: median(g.map((r) => r.bytesPerConnection)),
    connectSeconds: median(g.map((r) => r.connectSeconds)),
    brokerMicrosPerConnection: median(g.map((r) => r.brokerCpuMicrosPerConnection)),
    benchCpuPercent: median(g.map((r) => r.benchCpuPercent))
  }))
}

export function summariseDrain (rows: DrainRow[]): DrainSummary[] {
  return groups(rows, (r) => `${r.target}|${r.transport}`).map((g) => {
    const first = g[0] as DrainRow
    const present = g.filter((r) => r.sessionPresent).length
    return {
      target: first.target,
      transport: first.transport,
      kill: first.kill,
      messages: first.messages,
      rounds: g.length,
      publishSeconds: median(g.map((r) => r.publishSeconds)),
      restartSeconds: median(g.map((r) => r.restartSeconds)),
      sessionPresent: present === g.length ? 'yes' : present === 0 ? 'no' : `${present} of ${g.length}`,
      drainSeconds: median(g.map((r) => r.received > 0 ? r.drainSeconds : null)),
      messagesPerSecond: median(g.map((r) => r.received > 0 ? r.messagesPerSecond : null)),
      brokerMicrosPerMessage: median(g.map((r) => cpuPerMessage(r.broker.cpuSeconds, r.received))),
      brokerPeakRssBytes: median(g.map((r) => r.broker.peakRssBytes)),
      lost: sum(g.map((r) => r.lost)),
      duplicates: sum(g.map((r) => r.duplicates))
    }
  })
}

/** This broker ÷ each other broker, per group (`key` without the target), for the named figures. */
export function thisOverOthers<S extends { target: TargetName }> (summaries: S[], key: (s: S) => string, figures: Record<string, (s: S) => number | null>): Array<{ key: string, vs: TargetName, ratios: Record<string, number | null> }> {
  const mine = new Map(summaries.filter((s) => s.target === THIS).map((s) => [key(s), s]))
  return summaries.filter((s) => s.target !== THIS && mine.has(key(s))).map((other) => {
    const own = mine.get(key(other)) as S
    return { key: key(other), vs: other.target, ratios: Object.fromEntries(Object.entries(figures).map(([name, f]) => [name, ratio(f(own), f(other))])) }
  })
}

const RELAY_FIGURES = {
  'msg/s': (s: RelaySummary) => s.messagesPerSecond,
  p50: (s: RelaySummary) => s.p50,
  p99: (s: RelaySummary) => s.p99,
  'broker µs/msg': (s: RelaySummary) => s.brokerMicrosPerMessage
}
const IDLE_FIGURES = { 'KB/conn': (s: IdleSummary) => s.bytesPerConnection, 'broker µs/conn': (s: IdleSummary) => s.brokerMicrosPerConnection }
const DRAIN_FIGURES = { 'drain s': (s: DrainSummary) => s.drainSeconds, 'broker µs/msg': (s: DrainSummary) => s.brokerMicrosPerMessage }

export function relayRatios (s: RelaySummary[]): ReturnType<typeof thisOverOthers> { return thisOverOthers(s, (x) => `${x.transport} QoS ${x.qos}`, RELAY_FIGURES) }
export function idleRatios (s: IdleSummary[]): ReturnType<typeof thisOverOthers> { return thisOverOthers(s, (x) => x.transport, IDLE_FIGURES) }
export function drainRatios (s: DrainSummary[]): ReturnType<typeof thisOverOthers> { return thisOverOthers(s, (x) => x.transport, DRAIN_FIGURES) }

const RELAY_COLUMNS: Array<Column<RelaySummary>> = [
  { title: 'target', value: (s) => s.target, text: true },
  { title: 'transport', value: (s) => s.transport },
  { title: 'qos', value: (s) => String(s.qos) },
  { title: 'rounds', value: (s) => String(s.rounds) },
  { title: 'msg/s', value: (s) => orNa(s.messagesPerSecond, (v) => v.toFixed(0)) },
  { title: 'msg/s min–max', value: (s) => `${s.minMessagesPerSecond.toFixed(0)}–${s.maxMessagesPerSecond.toFixed(0)}` },
  { title: 'p50 ms', value: (s) => orNa(s.p50, ms) },
  { title: 'p99 ms', value: (s) => orNa(s.p99, ms) },
  { title: 'broker µs/msg', value: (s) => orNa(s.brokerMicrosPerMessage, (v) => v.toFixed(1)) },
  { title: 'broker CPU %', value: (s) => orNa(s.brokerCpuPercent, (v) => v.toFixed(0)) },
  { title: 'broker peak RSS MB', value: (s) => orNa(s.brokerPeakRssBytes, (v) => (v / MB).toFixed(1)) },
  { title: 'load CPU %', value: (s) => `${orNa(s.loadCpuPercent, (v) => v.toFixed(0))}${s.maxLoadCpuPercent > LOAD_SATURATED_PERCENT ? ' !' : ''}` },
  { title: 'other CPU %', value: (s) => `${orNa(s.otherCpuPercent, (v) => v.toFixed(0))}${(s.maxOtherCpuPercent ?? 0) > OTHER_BUSY_PERCENT ? ' !' : ''}` },
  { title: 'lost', value: (s) => String(s.lost) },
  { title: 'dup', value: (s) => String(s.duplicates) }
]

const IDLE_COLUMNS: Array<Column<IdleSummary>> = [
  { title: 'target', value: (s) => s.target, text: true },
  { title: 'transport', value: (s) => s.transport },
  { title: 'connections', value: (s) => String(s.connections) },
  { title: 'rounds', value: (s) => String(s.rounds) },
  { title: 'RSS before MB', value: (s) => orNa(s.rssBeforeBytes, (v) => (v / MB).toFixed(1)) },
  { title: 'RSS after MB', value: (s) => orNa(s.rssAfterBytes, (v) => (v / MB).toFixed(1)) },
  { title: 'KB/conn', value: (s) => orNa(s.bytesPerConnection, (v) => (v / 1024).toFixed(1)) },
  { title: 'connect s', value: (s) => orNa(s.connectSeconds, (v) => v.toFixed(2)) },
  { title: 'broker µs/conn', value: (s) => orNa(s.brokerMicrosPerConnection, (v) => v.toFixed(0)) },
  { title: 'bench CPU %', value: (s) => orNa(s.benchCpuPercent, (v) => v.toFixed(0)) }
]

const DRAIN_COLUMNS: Array<Column<DrainSummary>> = [
  { title: 'target', value: (s) => s.target, text: true },
  { title: 'transport', value: (s) => s.transport },
  { title: 'kill -9', value: (s) => s.kill ? 'yes' : 'no', text: true },
  { title: 'messages', value: (s) => String(s.messages) },
  { title: 'rounds', value: (s) => String(s.rounds) },
  { title: 'publish s', value: (s) => orNa(s.publishSeconds, (v) => v.toFixed(2)) },
  { title: 'restart s', value: (s) => orNa(s.restartSeconds, (v) => v.toFixed(2)) },
  { title: 'session present', value: (s) => s.sessionPresent },
  { title: 'drain s', value: (s) => orNa(s.drainSeconds, (v) => v.toFixed(2)) },
  { title: 'msg/s', value: (s) => orNa(s.messagesPerSecond, (v) => v.toFixed(0)) },
  { title: 'broker µs/msg', value: (s) => orNa(s.brokerMicrosPerMessage, (v) => v.toFixed(1)) },
  { title: 'broker peak RSS MB', value: (s) => orNa(s.brokerPeakRssBytes, (v) => (v / MB).toFixed(1)) },
  { title: 'lost', value: (s) => String(s.lost) },
  { title: 'dup', value: (s) => String(s.duplicates) }
]

/** Every table of a comparison, with the lines that say how to read them. */
export function formatComparison (results: ComparisonResults, rounds: number): string {
  const out: string[] = []
  const others = results.targets.filter((t) => t !== THIS)
  if (results.relay.length > 0) {
    const s = summariseRelay(results.relay)
    out.push(`Relay — median of ${rounds} round(s) per row; lost and dup summed over the rounds, warm-ups included`, '', table(RELAY_COLUMNS, s), '')
    out.push(...ratioTable(relayRatios(s), 'transport / QoS', Object.keys(RELAY_FIGURES),
      'msg/s above 1×: this broker relays more; p50, p99 and broker µs/msg below 1×: it is faster, or cheaper per message.'))
    const saturated = s.filter((x) => x.maxLoadCpuPercent > LOAD_SATURATED_PERCENT)
    out.push(saturated.length === 0
      ? `Load generator: every load process stayed under ${LOAD_SATURATED_PERCENT} % of a core in every round: it was not what limited msg/s.`
      : `Load generator (!): a load process used more than ${LOAD_SATURATED_PERCENT} % of a core in ${saturated.map((x) => `${x.target} ${x.transport} QoS ${x.qos} (${x.maxLoadCpuPercent.toFixed(0)} %)`).join(', ')}: there the load may have limited msg/s and latency, not the broker. Try --load-procs 2 on a machine with a core to spare, or compare broker µs/msg, which does not depend on it.`)
    const disturbed = s.filter((x) => (x.maxOtherCpuPercent ?? 0) > OTHER_BUSY_PERCENT)
    if (disturbed.length > 0) {
      const worst = Math.max(...disturbed.map((x) => x.maxOtherCpuPercent ?? 0))
      const rows = disturbed.length === s.length ? `every row (up to ${worst.toFixed(0)} %)` : disturbed.map((x) => `${x.target} ${x.transport} QoS ${x.qos} (up to ${(x.maxOtherCpuPercent ?? 0).toFixed(0)} %)`).join(', ')
      out.push(`Shared machine (!): other processes used more than ${OTHER_BUSY_PERCENT} % of a core during ${rows}: those figures were disturbed. Prefer broker µs/msg, more rounds, or a quiet machine.`)
    }
    out.push('')
  }
  if (results.idle.length > 0) {
    const s = summariseIdle(results.idle)
    out.push(`Idle connections — median of ${rounds} round(s); KB/conn = (RSS after − RSS before) ÷ connections`, '', table(IDLE_COLUMNS, s), '')
    out.push(...ratioTable(idleRatios(s), 'transport', Object.keys(IDLE_FIGURES), 'Below 1×: this broker needs less memory (or CPU) per idle connection.'))
  }
  if (results.drain.length > 0) {
    const s = summariseDrain(results.drain)
    out.push(`Offline drain — median of ${rounds} round(s); drain s = reconnection's CONNECT → last of the queued messages`, '', table(DRAIN_COLUMNS, s), '')
    out.push(...ratioTable(drainRatios(s), 'transport', Object.keys(DRAIN_FIGURES), 'Below 1×: this broker delivers a backlog faster (or cheaper per message).'))
  }
  if (others.length === 0) out.push('No other broker measured: no ratios (--vs mosquitto,aedes adds them).')
  if (results.skipped.length > 0) out.push(...results.skipped.map((line) => `skipped: ${line}`))
  return out.join('\n').trimEnd()
}

/** The ratios, and the line that says which way is better; nothing when there is no other broker. */
function ratioTable (all: ReturnType<typeof thisOverOthers>, keyTitle: string, figures: string[], reading: string): string[] {
  // a broker that delivered nothing (e.g. Mosquitto after kill -9) has no figure to divide by
  const rows = all.filter((r) => Object.values(r.ratios).some((v) => v !== null))
  if (rows.length === 0) return []
  const columns: Array<Column<(typeof rows)[number]>> = [
    { title: keyTitle, value: (r) => r.key, text: true },
    { title: 'ratio', value: (r) => `${THIS} ÷ ${r.vs}`, text: true },
    ...figures.map((f) => ({ title: f, value: (r: (typeof rows)[number]) => times(r.ratios[f] ?? null) }))
  ]
  return [table(columns, rows), '', reading, '']
}

/** The rows grouped by `key`, the groups ordered by transport, then QoS, then broker (this one first). */
function groups<T extends { target: TargetName, transport: string, qos?: number }> (rows: T[], key: (r: T) => string): T[][] {
  const order = (r: T): string => `${r.transport}|${r.qos ?? ''}|${TARGETS.indexOf(r.target)}`
  rows = [...rows].sort((a, b) => order(a).localeCompare(order(b)))
  const map = new Map<string, T[]>()
  for (const row of rows) {
    const k = key(row)
    const group = map.get(k)
    if (group) group.push(row)
    else map.set(k, [row])
  }
  return [...map.values()]
}

function sum (values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}
