/**
 * The readable tables printed at the end of a run: one row per run, then IM ÷ its relay baseline;
 * and the table layout the comparison's tables (compare-report.ts) share.
 */
import type { DeliveryFigures } from './stats.js'

/** What every run reports, whatever measured it (`relay.ts` or `workload.ts`). */
export interface ResultRow extends DeliveryFigures {
  /** `relay`, `im direct`, `relay group`, `im group` */
  run: string
  transport: string
  broker: { cpuSeconds: number | null, cpuPercentOfOneCore: number | null, peakRssBytes: number | null }
  clientCpuPercentOfOneCore: number
}

/** An IM run next to the plain relay that did the same deliveries through the same broker. */
export interface Comparison { im: ResultRow, baseline: ResultRow }

/** `text`: left-aligned (default: figures, right-aligned; the titles in TEXT_COLUMNS are text) */
export interface Column<T> { title: string, value: (r: T) => string, text?: boolean }

export const MB = 1024 * 1024
/** left-aligned; every other column is a figure, right-aligned */
const TEXT_COLUMNS = new Set(['run', 'IM run', 'transport', 'baseline'])

const RESULT_COLUMNS: Array<Column<ResultRow>> = [
  { title: 'run', value: (r) => r.run },
  { title: 'transport', value: (r) => r.transport },
  { title: 'messages', value: (r) => String(r.messages) },
  { title: 'delivered', value: (r) => String(r.delivered) },
  { title: 'msg/s', value: (r) => r.messagesPerSecond.toFixed(0) },
  { title: 'p50 ms', value: (r) => ms(r.latencyMs.p50) },
  { title: 'p90 ms', value: (r) => ms(r.latencyMs.p90) },
  { title: 'p99 ms', value: (r) => ms(r.latencyMs.p99) },
  { title: 'max ms', value: (r) => ms(r.latencyMs.max) },
  { title: 'lost', value: (r) => String(r.lost) },
  { title: 'dup', value: (r) => String(r.duplicates) },
  { title: 'broker CPU s', value: (r) => orNa(r.broker.cpuSeconds, (v) => v.toFixed(2)) },
  { title: 'broker CPU %', value: (r) => orNa(r.broker.cpuPercentOfOneCore, (v) => v.toFixed(0)) },
  { title: 'broker µs/msg', value: (r) => orNa(cpuPerDelivery(r), (v) => v.toFixed(0)) },
  { title: 'broker peak RSS MB', value: (r) => orNa(r.broker.peakRssBytes, (v) => (v / MB).toFixed(1)) },
  { title: 'bench CPU %', value: (r) => r.clientCpuPercentOfOneCore.toFixed(0) }
]

const COMPARISON_COLUMNS: Array<Column<Comparison>> = [
  { title: 'IM run', value: (c) => c.im.run },
  { title: 'transport', value: (c) => c.im.transport },
  { title: 'baseline', value: (c) => c.baseline.run },
  { title: 'msg/s', value: (c) => times(ratios(c).messagesPerSecond) },
  { title: 'p50', value: (c) => times(ratios(c).p50) },
  { title: 'p99', value: (c) => times(ratios(c).p99) },
  { title: 'broker µs/msg', value: (c) => times(ratios(c).brokerCpuPerDelivery) }
]

export function formatTable (results: ResultRow[]): string {
  return table(RESULT_COLUMNS, results)
}

export function formatComparisons (comparisons: Comparison[]): string {
  return table(COMPARISON_COLUMNS, comparisons)
}

/** IM ÷ baseline for each compared figure (null when either side is missing or zero). */
export function ratios (c: Comparison): { messagesPerSecond: number | null, p50: number | null, p99: number | null, brokerCpuPerDelivery: number | null } {
  return {
    messagesPerSecond: ratio(c.im.messagesPerSecond, c.baseline.messagesPerSecond),
    p50: ratio(c.im.latencyMs.p50, c.baseline.latencyMs.p50),
    p99: ratio(c.im.latencyMs.p99, c.baseline.latencyMs.p99),
    brokerCpuPerDelivery: ratio(cpuPerDelivery(c.im), cpuPerDelivery(c.baseline))
  }
}

/** Broker CPU time per measured delivery, in microseconds. */
export function cpuPerDelivery (r: ResultRow): number | null {
  return r.broker.cpuSeconds === null || r.delivered === 0 ? null : (r.broker.cpuSeconds / r.delivered) * 1e6
}

/** What a run must never show: `<label>: 3 lost, 1 duplicated`, one line per failing run. */
export function correctnessFailures<T extends { lost: number, duplicates: number, idMismatches?: number }> (rows: T[], label: (r: T) => string): string[] {
  return rows.flatMap((r) => {
    const problems = [
      r.lost > 0 ? `${r.lost} lost` : '',
      r.duplicates > 0 ? `${r.duplicates} duplicated` : '',
      (r.idMismatches ?? 0) > 0 ? `${r.idMismatches} copies with another message id` : ''
    ].filter((p) => p !== '')
    return problems.length > 0 ? [`${label(r)}: ${problems.join(', ')}`] : []
  })
}

export function table<T> (columns: Array<Column<T>>, items: T[]): string {
  const rows = [columns.map((c) => c.title), ...items.map((item) => columns.map((c) => c.value(item)))]
  const widths = columns.map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)))
  const text = columns.map((c) => c.text ?? TEXT_COLUMNS.has(c.title))
  const line = (row: string[]): string => row.map((cell, i) => text[i] ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number)).join('  ')
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  const [header, ...body] = rows
  return [line(header as string[]), rule, ...body.map(line)].join('\n')
}

export function ms (value: number): string {
  return Number.isNaN(value) ? 'n/a' : value.toFixed(value < 10 ? 2 : 1)
}

export function ratio (value: number | null, baseline: number | null): number | null {
  if (value === null || baseline === null || !Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return null
  return value / baseline
}

export function times (value: number | null): string {
  return value === null ? 'n/a' : `${value.toFixed(2)}×`
}

export function orNa (value: number | null, format: (v: number) => string): string {
  return value === null ? 'n/a' : format(value)
}
