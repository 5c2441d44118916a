/** The soak's output: a line per minute, the delivery check, and what grew between two heap snapshots. */
import { HeapSnapshot, growth } from './heap-snapshot.js'
import { MB } from './report.js'
import type { DeliveryCheck } from './soak-ledger.js'
import type { BrokerSample } from './soak-probe.js'
import type { Agent, Visitors } from './soak-support.js'

export interface LoadCounts { sent: number, acknowledged: number, received: number, commands: number, visitors: number, reconnects: number, openMs: number[] }

export interface SoakRow { label: string, atSeconds: number, sample: BrokerSample, load?: Omit<LoadCounts, 'openMs'> & { openP50Ms: number | null } }

/**
 * Minutes the store takes to reach its steady state (visitors' sessions expire after 2 minutes
 * and are swept every 30 s: until then they pile up, and with them what the broker holds for each
 * stored session); the heap's slope is taken over the minutes after them.
 */
export const STEADY_FROM_MINUTE = 3

const COLUMNS = ['min', 'sent', 'acked', 'delivered', 'commands', 'visitors', 'reconnects', 'open p50 ms', 'heap MB', 'RSS MB', 'sessions', 'conns', 'clients', 'fds']
const LIST_AT_MOST = 20

export class SoakTable {
  readonly rows: SoakRow[] = []
  readonly #start = Date.now()

  /** Adds a row and prints it at once (a long run shows its progress). */
  row (label: string, sample: BrokerSample, load?: LoadCounts): void {
    const row: SoakRow = { label, atSeconds: Math.round((Date.now() - this.#start) / 1000), sample }
    if (load) {
      const { openMs, ...counts } = load
      row.load = { ...counts, openP50Ms: median(openMs) }
    }
    this.rows.push(row)
    if (this.rows.length === 1) console.log(COLUMNS.join('\t'))
    console.log(cells(row).join('\t'))
  }

  format (): string {
    const lines = [COLUMNS, ...this.rows.map(cells)]
    const widths = COLUMNS.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)))
    return lines.map((l) => l.map((cell, i) => cell.padStart(widths[i]!)).join('  ')).join('\n')
  }

  /** Used heap growth once the store is steady, MB per hour (least squares over those minute rows). */
  heapSlopeMbPerHour (): number | null {
    const points = this.rows.filter((r) => r.load !== undefined && Number(r.label) >= STEADY_FROM_MINUTE).map((r) => [r.atSeconds / 3600, r.sample.heapUsedBytes / MB] as const)
    if (points.length < 2) return null
    const n = points.length
    const mx = points.reduce((s, [x]) => s + x, 0) / n
    const my = points.reduce((s, [, y]) => s + y, 0) / n
    const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0)
    const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
    return sxx === 0 ? null : sxy / sxx
  }
}

function cells (r: SoakRow): string[] {
  const s = r.sample
  const l = r.load
  const n = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : String(v))
  return [r.label, n(l?.sent), n(l?.acknowledged), n(l?.received), n(l?.commands), n(l?.visitors), n(l?.reconnects), l?.openP50Ms == null ? '-' : l.openP50Ms.toFixed(1),
    (s.heapUsedBytes / MB).toFixed(1), s.rssBytes === null ? '-' : (s.rssBytes / MB).toFixed(0), n(s.sessionsStored), n(s.connections), n(s.clientsConnected), n(s.fds)]
}

/** Prints what the check found; returns how many failures (held back, lost, stored twice). */
export function printCheck (c: DeliveryCheck, visitors: Visitors, agents: Agent[], table: SoakTable, fresh: BrokerSample, expired: BrokerSample): number {
  const list = (items: string[]): string => items.length === 0 ? '' : `: ${items.slice(0, LIST_AT_MOST).join(', ')}${items.length > LIST_AT_MOST ? ` … (${items.length} in all)` : ''}`
  const agentEchoMissing = agents.flatMap((a) => a.echoMissing)
  const sum = (f: (a: Agent) => number): number => agents.reduce((s, a) => s + f(a), 0)
  console.log(`users: ${c.sent} sent, ${c.acknowledged} acknowledged, ${c.stored} stored; lost (acknowledged, not stored) ${c.lost.length}${list(c.lost)}; stored twice ${c.storedTwice}`)
  console.log(`  held back (stored, never delivered to a member's session) ${c.heldBack.length}${list(c.heldBack)}; redelivered copies (QoS 1 after a drop) ${c.redelivered}`)
  console.log(`devices: ${c.devices.sent} commands sent, ${c.devices.acknowledged} acknowledged; held back ${c.devices.heldBack.length}${list(c.devices.heldBack)}; redelivered ${c.devices.redelivered}`)
  console.log(`visitors: ${visitors.started} started, ${visitors.completed} completed, ${visitors.answered} answered by an agent, ${visitors.failed} failed${visitors.firstFailure ? ` (first: ${visitors.firstFailure})` : ''}; ` +
    `echo held back ${visitors.echoMissing.length}${list(visitors.echoMissing)}`)
  console.log(`agents: ${sum((a) => a.assigned)} chats assigned, ${sum((a) => a.answered)} answered, ${sum((a) => a.closed)} closed; echo held back ${agentEchoMissing.length}${list(agentEchoMissing)}`)
  const slope = table.heapSlopeMbPerHour()
  console.log(`heap after GC: fresh ${(fresh.heapUsedBytes / MB).toFixed(1)} MB, after everyone left and the visitors' sessions expired ${(expired.heapUsedBytes / MB).toFixed(1)} MB ` +
    `(+${((expired.heapUsedBytes - fresh.heapUsedBytes) / MB).toFixed(1)} MB); under load from minute ${STEADY_FROM_MINUTE} on ` +
    `${slope === null ? 'n/a (a run of at least 4 minutes)' : `${slope >= 0 ? '+' : ''}${slope.toFixed(1)} MB/h`}`)
  return c.lost.length + c.storedTwice + c.heldBack.length + c.devices.heldBack.length + visitors.echoMissing.length + agentEchoMissing.length
}

/** The kinds of objects that grew most between two snapshots, and the paths that hold the new ones. */
export function printSnapshotDiff (beforeFile: string, afterFile: string): void {
  const before = new HeapSnapshot(beforeFile)
  const beforeKinds = before.histogram()
  const beforeIds = before.ids()
  const after = new HeapSnapshot(afterFile)
  const grown = growth(beforeKinds, after.histogram())
  console.log(`\nheap snapshots ${beforeFile} → ${afterFile}: ${beforeIds.size} → ${after.nodeCount} objects; grew most:`)
  for (const g of grown) console.log(`  ${String(g.count).padStart(8)}  ${(g.bytes / 1024).toFixed(0).padStart(8)} KB  ${g.kind}`)
  const kinds = new Set(grown.slice(0, 4).map((g) => g.kind))
  console.log(`\nwhat holds the new objects of ${[...kinds].join(', ')} (shortest path from the roots, most frequent first):`)
  for (const { path, count } of after.newObjectHolders(kinds, beforeIds).slice(0, 25)) console.log(`  ${String(count).padStart(7)}  ${path}`)
}

function median (values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}
