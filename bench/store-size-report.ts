/**
 * The tables of `--suite store-size`: each operation's figures on the empty and the pre-filled
 * store; then pre-filled ÷ empty and a plain reading of each operation —
 *
 * - `grows`: its median broker CPU (all threads) is GROWS_AT× or more, and so is its main
 *   thread's: the broker's own code does more work on a full store;
 * - `grows off main`: only the other threads' part grew — LevelDB reading through more levels,
 *   compacting, or V8's helpers — not the broker's JavaScript;
 * - `slower`: only its median latency is GROWS_AT× or more — waiting (for the disk, or for a busy
 *   machine) rather than working: repeat the run before believing it;
 * - `same`: none of these.
 *
 * and the broker's CPU over the whole measured run per repetition, all threads and main thread,
 * which also holds the work no single operation's window caught (LevelDB compacting in between).
 * Without per-thread CPU (no schedstat), latency alone decides between `grows` and `same`.
 */
import { MB, ms, orNa, ratio, table, times, type Column } from './report.js'
import { summarise, type LatencySummary } from './stats.js'
import { OPERATIONS, type Operation, type OperationsResult } from './store-size-ops.js'

/** a pre-filled ÷ empty ratio at or above this is growth, not noise */
export const GROWS_AT = 1.25

export type StoreName = 'empty' | 'pre-filled'

export interface StoreRun {
  store: StoreName
  /** spawn → the broker's "ready" line (it reads its sessions, subscriptions and retained messages first) */
  startSeconds: number
  /** broker CPU, % of one core, over 5 s without load before the measurement */
  idleCpuPercent: number | null
  rssAfterStartBytes: number | null
  rssAtEndBytes: number | null
  /** one per transport */
  results: OperationsResult[]
  repetitions: number
}

export interface OperationFigures {
  operation: Operation
  transport: string
  store: StoreName
  latencyMs: LatencySummary
  /** broker CPU per operation, µs, all threads and main thread; null without /proc/<pid>/task/<tid>/schedstat */
  cpuUs: LatencySummary | null
  mainUs: LatencySummary | null
  lost: number
}

export interface Growth {
  operation: Operation
  transport: string
  p50: number | null
  p90: number | null
  cpu: number | null
  cpuMean: number | null
  main: number | null
  reading: 'same' | 'grows' | 'grows off main' | 'slower'
}

export function figures (run: StoreRun): OperationFigures[] {
  return run.results.flatMap((result) => OPERATIONS.map((operation) => {
    const samples = result.operations[operation]
    return {
      operation,
      transport: result.transport,
      store: run.store,
      latencyMs: summarise(Float64Array.from(samples.latencyMs)),
      cpuUs: samples.cpuUs.length === 0 ? null : summarise(Float64Array.from(samples.cpuUs)),
      mainUs: samples.mainUs.length === 0 ? null : summarise(Float64Array.from(samples.mainUs)),
      lost: samples.lost
    }
  }))
}

export function growth (empty: OperationFigures[], full: OperationFigures[]): Growth[] {
  return empty.flatMap((e) => {
    const f = full.find((x) => x.operation === e.operation && x.transport === e.transport)
    if (!f) return []
    const p50 = ratio(f.latencyMs.p50, e.latencyMs.p50)
    const cpu = ratio(f.cpuUs?.p50 ?? null, e.cpuUs?.p50 ?? null)
    const main = ratio(f.mainUs?.p50 ?? null, e.mainUs?.p50 ?? null)
    const reading = (cpu ?? p50 ?? 0) >= GROWS_AT
      ? ((main ?? p50 ?? 0) >= GROWS_AT ? 'grows' : 'grows off main')
      : (p50 ?? 0) >= GROWS_AT ? 'slower' : 'same'
    const cpuMean = ratio(f.cpuUs?.mean ?? null, e.cpuUs?.mean ?? null)
    return [{ operation: e.operation, transport: e.transport, p50, p90: ratio(f.latencyMs.p90, e.latencyMs.p90), cpu, cpuMean, main, reading }]
  })
}

const FIGURE_COLUMNS: Array<Column<OperationFigures>> = [
  { title: 'operation', value: (f) => f.operation, text: true },
  { title: 'transport', value: (f) => f.transport },
  { title: 'store', value: (f) => f.store, text: true },
  { title: 'n', value: (f) => String(f.latencyMs.count) },
  { title: 'p50 ms', value: (f) => ms(f.latencyMs.p50) },
  { title: 'p90 ms', value: (f) => ms(f.latencyMs.p90) },
  { title: 'max ms', value: (f) => ms(f.latencyMs.max) },
  { title: 'broker µs/op', value: (f) => orNa(f.cpuUs?.p50 ?? null, (v) => v.toFixed(0)) },
  { title: 'µs/op mean', value: (f) => orNa(f.cpuUs?.mean ?? null, (v) => v.toFixed(0)) },
  { title: 'main µs/op', value: (f) => orNa(f.mainUs?.p50 ?? null, (v) => v.toFixed(0)) },
  { title: 'lost', value: (f) => String(f.lost) }
]

const GROWTH_COLUMNS: Array<Column<Growth>> = [
  { title: 'operation', value: (g) => g.operation, text: true },
  { title: 'transport', value: (g) => g.transport },
  { title: 'p50', value: (g) => times(g.p50) },
  { title: 'p90', value: (g) => times(g.p90) },
  { title: 'broker µs/op', value: (g) => times(g.cpu) },
  { title: 'µs/op mean', value: (g) => times(g.cpuMean) },
  { title: 'main µs/op', value: (g) => times(g.main) },
  { title: 'reading', value: (g) => g.reading, text: true }
]

interface RunCpu { transport: string, empty: OperationsResult, full: OperationsResult, repetitions: number }
const perRep = (r: OperationsResult, part: 'allSeconds' | 'mainSeconds', repetitions: number): number | null =>
  r.brokerCpu === null ? null : (r.brokerCpu[part] / repetitions) * 1000
const RUN_CPU_COLUMNS: Array<Column<RunCpu>> = [
  { title: 'transport', value: (c) => c.transport },
  { title: 'empty ms', value: (c) => orNa(perRep(c.empty, 'allSeconds', c.repetitions), (v) => v.toFixed(1)) },
  { title: 'pre-filled ms', value: (c) => orNa(perRep(c.full, 'allSeconds', c.repetitions), (v) => v.toFixed(1)) },
  { title: 'ratio', value: (c) => times(ratio(perRep(c.full, 'allSeconds', c.repetitions), perRep(c.empty, 'allSeconds', c.repetitions))) },
  { title: 'main: empty ms', value: (c) => orNa(perRep(c.empty, 'mainSeconds', c.repetitions), (v) => v.toFixed(1)) },
  { title: 'pre-filled ms', value: (c) => orNa(perRep(c.full, 'mainSeconds', c.repetitions), (v) => v.toFixed(1)) },
  { title: 'ratio', value: (c) => times(ratio(perRep(c.full, 'mainSeconds', c.repetitions), perRep(c.empty, 'mainSeconds', c.repetitions))) }
]

const STORE_COLUMNS: Array<Column<StoreRun>> = [
  { title: 'store', value: (r) => r.store, text: true },
  { title: 'broker start s', value: (r) => r.startSeconds.toFixed(1) },
  { title: 'idle CPU %', value: (r) => orNa(r.idleCpuPercent, (v) => v.toFixed(1)) },
  { title: 'RSS after start MB', value: (r) => orNa(r.rssAfterStartBytes, (v) => (v / MB).toFixed(0)) },
  { title: 'RSS at end MB', value: (r) => orNa(r.rssAtEndBytes, (v) => (v / MB).toFixed(0)) },
  { title: 'run s', value: (r) => r.results.map((x) => `${x.transport} ${x.wallSeconds.toFixed(0)}`).join(', '), text: true },
  { title: 'other CPU %', value: (r) => r.results.map((x) => `${x.transport} ${orNa(x.otherCpuPercent, (v) => v.toFixed(0))}`).join(', '), text: true },
  { title: 'lost (close)', value: (r) => String(r.results.reduce((sum, x) => sum + x.lostOther, 0)) },
  { title: 'dup', value: (r) => String(r.results.reduce((sum, x) => sum + x.duplicates, 0)) }
]

function runCpu (empty: StoreRun, full: StoreRun): RunCpu[] {
  return empty.results.flatMap((e) => {
    const f = full.results.find((r) => r.transport === e.transport)
    return f ? [{ transport: e.transport, empty: e, full: f, repetitions: empty.repetitions }] : []
  })
}

export function formatStoreSize (empty: StoreRun, full: StoreRun): string {
  const byOperation = <T extends { operation: Operation, transport: string }>(a: T, b: T): number =>
    OPERATIONS.indexOf(a.operation) - OPERATIONS.indexOf(b.operation) || a.transport.localeCompare(b.transport)
  const rows = [...figures(empty), ...figures(full)].sort((a, b) => byOperation(a, b) || (a.store === 'empty' ? -1 : 1))
  const ratios = growth(figures(empty), figures(full)).sort(byOperation)
  const named = (reading: Growth['reading']): string[] => ratios.filter((g) => g.reading === reading).map((g) => `${g.operation} (${g.transport})`)
  const grows = named('grows')
  const offMain = named('grows off main')
  const slower = named('slower')
  return [
    table(FIGURE_COLUMNS, rows),
    '',
    `Pre-filled ÷ empty, per operation (medians; ${GROWS_AT}× or more is growth, less is noise):`,
    '',
    table(GROWTH_COLUMNS, ratios),
    '',
    'Broker CPU per repetition — one visit (connect, open, send, close, disconnect) and one user send, pauses included,',
    'so also what LevelDB did between the operations — all threads, then its main thread (all its JavaScript):',
    '',
    table(RUN_CPU_COLUMNS, runCpu(empty, full)),
    '',
    table(STORE_COLUMNS, [empty, full]),
    '',
    grows.length === 0 ? 'Costs more in the broker\'s own code (main thread) on the pre-filled store: nothing, beyond noise.' : `Costs more in the broker's own code (main thread) on the pre-filled store: ${grows.join(', ')}.`,
    ...(offMain.length > 0 ? [`Costs more off the main thread only (LevelDB reads and compaction, V8 helpers): ${offMain.join(', ')}.`] : []),
    ...(slower.length > 0 ? [`Slower there, at the same CPU cost (waiting, or a busy machine: repeat the run): ${slower.join(', ')}.`] : [])
  ].join('\n')
}
