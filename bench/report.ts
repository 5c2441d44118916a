/** The readable table printed at the end of a run. */
import type { RelayResult } from './relay.js'

interface Column { title: string, value: (r: RelayResult) => string }

const MB = 1024 * 1024

const COLUMNS: Column[] = [
  { title: 'transport', value: (r) => r.transport },
  { title: 'messages', value: (r) => String(r.messages) },
  { title: 'msg/s', value: (r) => r.messagesPerSecond.toFixed(0) },
  { title: 'p50 ms', value: (r) => ms(r.latencyMs.p50) },
  { title: 'p90 ms', value: (r) => ms(r.latencyMs.p90) },
  { title: 'p99 ms', value: (r) => ms(r.latencyMs.p99) },
  { title: 'max ms', value: (r) => ms(r.latencyMs.max) },
  { title: 'lost', value: (r) => String(r.lost) },
  { title: 'dup', value: (r) => String(r.duplicates) },
  { title: 'broker CPU s', value: (r) => orNa(r.broker.cpuSeconds, (v) => v.toFixed(2)) },
  { title: 'broker CPU %', value: (r) => orNa(r.broker.cpuPercentOfOneCore, (v) => v.toFixed(0)) },
  { title: 'broker peak RSS MB', value: (r) => orNa(r.broker.peakRssBytes, (v) => (v / MB).toFixed(1)) },
  { title: 'bench CPU %', value: (r) => r.clientCpuPercentOfOneCore.toFixed(0) }
]

export function formatTable (results: RelayResult[]): string {
  const rows = [COLUMNS.map((c) => c.title), ...results.map((r) => COLUMNS.map((c) => c.value(r)))]
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)))
  const line = (row: string[]): string => row.map((cell, i) => i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number)).join('  ')
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  const [header, ...body] = rows
  return [line(header as string[]), rule, ...body.map(line)].join('\n')
}

function ms (value: number): string {
  return Number.isNaN(value) ? 'n/a' : value.toFixed(value < 10 ? 2 : 1)
}

function orNa (value: number | null, format: (v: number) => string): string {
  return value === null ? 'n/a' : format(value)
}
