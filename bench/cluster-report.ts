/**
 * The `cluster` suite's tables: per deployment and run, throughput, latency, correctness and what
 * one delivered message costs in CPU — the broker nodes together and each node, the MongoDB, the
 * Redis — then where the CPU went during the measured phase, as a share of one core.
 */
import { ms, orNa, table, type Column } from './report.js'
import type { DeliveryFigures } from './stats.js'

/** One run (relay, im direct…) on one deployment. CPU figures are CPU-seconds over the measured phase. */
export interface ClusterRow extends DeliveryFigures {
  /** the deployment's `--deployments` name (`cluster-2`) and its label (`mongodb+redis ×2`) */
  deploymentName: string
  deployment: string
  run: string
  transport: string
  idMismatches: number
  /** the measured phase's wall time, from `CpuMeter` */
  wallSeconds: number
  cpuSeconds: CpuByProcess
  /** the same processes idle, for `wallSeconds`, before the deployment's runs (no client connected) */
  idle: CpuByProcess & { wallSeconds: number }
  /** the machine's cores, for `machine %` */
  cores: number
}

/** CPU-seconds of each process the bench watches, over some span. */
export interface CpuByProcess {
  /** each node, in order: node 1 is the one the set-up went through */
  nodes: Array<number | null>
  /** undefined: the deployment does not use it; null: not measurable (a server the bench did not start) */
  database?: number | null
  redis?: number | null
  bench: number | null
  /** the whole machine, every process (/proc/stat) */
  machine: number | null
}

/** What the tables call the database column: `FerretDB`, or `MongoDB` for MONGO_URL. */
export interface ReportNames { database: string }

/** Broker nodes' CPU-seconds together (of the measured phase, or `of` another span); null when any node's could not be read. */
export function nodesSeconds (r: ClusterRow, of: CpuByProcess = r.cpuSeconds): number | null {
  return of.nodes.some((s) => s === null) ? null : (of.nodes as number[]).reduce((a, b) => a + b, 0)
}

/**
 * What the nodes would have spent idle during the phase, per delivery: the share of
 * `nodes µs/msg` that is their timers and the drivers' monitoring rather than the messages.
 */
export function idlePerDelivery (r: ClusterRow, idleSeconds: number | null | undefined = nodesSeconds(r, r.idle)): number | null | undefined {
  if (idleSeconds === undefined) return undefined
  if (idleSeconds === null || r.idle.wallSeconds <= 0) return null
  return perDelivery(r, (idleSeconds / r.idle.wallSeconds) * r.wallSeconds)
}

/** Microseconds of CPU per measured delivery. */
export function perDelivery (r: ClusterRow, seconds: number | null | undefined): number | null | undefined {
  if (seconds === undefined) return undefined
  return seconds === null || r.delivered === 0 ? null : (seconds / r.delivered) * 1e6
}

/** Percent of one core over the measured phase. */
export function percentOfCore (r: ClusterRow, seconds: number | null | undefined): number | null | undefined {
  if (seconds === undefined) return undefined
  return seconds === null || r.wallSeconds <= 0 ? null : (seconds / r.wallSeconds) * 100
}

/** What else ran on the machine: all of it, less every process measured. */
export function otherSeconds (r: ClusterRow): number | null {
  const { machine, bench, database, redis } = r.cpuSeconds
  const mine = [nodesSeconds(r), bench, database ?? 0, redis ?? 0]
  if (machine === null || mine.some((s) => s === null)) return null
  return Math.max(0, machine - (mine as number[]).reduce((a, b) => a + b, 0))
}

/** The process that used the most CPU during the phase, one node counting alone: `node 1 97 %`. */
export function busiest (r: ClusterRow, names: ReportNames): string {
  const candidates: Array<[string, number | null | undefined]> = [
    ...r.cpuSeconds.nodes.map((s, i): [string, number | null] => [`node ${i + 1}`, s]),
    [names.database, r.cpuSeconds.database],
    ['Redis', r.cpuSeconds.redis],
    ['bench', r.cpuSeconds.bench]
  ]
  let best: [string, number] | undefined
  for (const [name, seconds] of candidates) {
    if (typeof seconds === 'number' && (best === undefined || seconds > best[1])) best = [name, seconds]
  }
  return best === undefined ? 'n/a' : `${best[0]} ${(percentOfCore(r, best[1]) as number).toFixed(0)} %`
}

function micro (value: number | null | undefined): string {
  return value === undefined ? '—' : orNa(value, (v) => v.toFixed(0))
}

function percent (value: number | null | undefined): string {
  return value === undefined ? '—' : orNa(value, (v) => v.toFixed(0))
}

const joined = (values: Array<number | null>, format: (v: number | null) => string): string => values.length === 1 ? '' : values.map(format).join(' + ')

export function formatCost (rows: ClusterRow[], names: ReportNames): string {
  const columns: Array<Column<ClusterRow>> = [
    { title: 'deployment', value: (r) => r.deployment, text: true },
    { title: 'run', value: (r) => r.run },
    { title: 'transport', value: (r) => r.transport },
    { title: 'delivered', value: (r) => String(r.delivered) },
    { title: 'msg/s', value: (r) => r.messagesPerSecond.toFixed(0) },
    { title: 'p50 ms', value: (r) => ms(r.latencyMs.p50) },
    { title: 'p99 ms', value: (r) => ms(r.latencyMs.p99) },
    { title: 'lost', value: (r) => String(r.lost) },
    { title: 'dup', value: (r) => String(r.duplicates + r.idMismatches) },
    { title: 'nodes µs/msg', value: (r) => micro(perDelivery(r, nodesSeconds(r))) },
    { title: 'per node µs/msg', value: (r) => joined(r.cpuSeconds.nodes, (s) => micro(perDelivery(r, s))) },
    { title: 'of it idle', value: (r) => micro(idlePerDelivery(r)) },
    { title: `${names.database} µs/msg`, value: (r) => micro(perDelivery(r, r.cpuSeconds.database)) },
    { title: 'Redis µs/msg', value: (r) => micro(perDelivery(r, r.cpuSeconds.redis)) }
  ]
  return table(columns, rows)
}

export function formatCpu (rows: ClusterRow[], names: ReportNames): string {
  const columns: Array<Column<ClusterRow>> = [
    { title: 'deployment', value: (r) => r.deployment, text: true },
    { title: 'run', value: (r) => r.run },
    { title: 'transport', value: (r) => r.transport },
    { title: 'nodes', value: (r) => percent(percentOfCore(r, nodesSeconds(r))) },
    { title: 'per node', value: (r) => joined(r.cpuSeconds.nodes, (s) => percent(percentOfCore(r, s))) },
    { title: names.database, value: (r) => percent(percentOfCore(r, r.cpuSeconds.database)) },
    { title: 'Redis', value: (r) => percent(percentOfCore(r, r.cpuSeconds.redis)) },
    { title: 'bench', value: (r) => percent(percentOfCore(r, r.cpuSeconds.bench)) },
    { title: 'other', value: (r) => percent(percentOfCore(r, otherSeconds(r))) },
    { title: 'machine % of all', value: (r) => orNa(percentOfCore(r, r.cpuSeconds.machine) ?? null, (v) => `${(v / r.cores).toFixed(0)}`) },
    { title: 'busiest', value: (r) => busiest(r, names), text: true }
  ]
  return table(columns, rows)
}

/** Every figure of a row, derived ones included, for the JSON file. */
export function rowJson (r: ClusterRow, names: ReportNames): unknown {
  return {
    ...r,
    cpuMicrosecondsPerDelivery: {
      nodes: perDelivery(r, nodesSeconds(r)),
      perNode: r.cpuSeconds.nodes.map((s) => perDelivery(r, s)),
      database: perDelivery(r, r.cpuSeconds.database) ?? 'not used',
      redis: perDelivery(r, r.cpuSeconds.redis) ?? 'not used',
      bench: perDelivery(r, r.cpuSeconds.bench)
    },
    cpuPercentOfOneCore: {
      nodes: percentOfCore(r, nodesSeconds(r)),
      perNode: r.cpuSeconds.nodes.map((s) => percentOfCore(r, s)),
      database: percentOfCore(r, r.cpuSeconds.database) ?? 'not used',
      redis: percentOfCore(r, r.cpuSeconds.redis) ?? 'not used',
      bench: percentOfCore(r, r.cpuSeconds.bench),
      other: percentOfCore(r, otherSeconds(r))
    },
    /** what each would have used idle during the phase, per delivery: part of the figures above */
    idleMicrosecondsPerDelivery: {
      nodes: idlePerDelivery(r),
      database: idlePerDelivery(r, r.idle.database) ?? 'not used',
      redis: idlePerDelivery(r, r.idle.redis) ?? 'not used'
    },
    busiest: busiest(r, names)
  }
}
