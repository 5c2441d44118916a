/**
 * `idle`: what an idle connection costs a broker. N clients each connect (clean session, keep-alive
 * 60 s, a PINGREQ every 60 s) and subscribe at QoS 1 to a topic of their own `bench/idle/<i>`,
 * then stay silent. The broker's RSS (/proc) before — once it has settled after start — and after
 * — once the last SUBACK is in and it has settled again — divided by N is its memory per idle
 * connection. The broker's CPU time while they connect gives its cost per connection set-up.
 *
 * Each connection is one file descriptor in the bench and one in the broker: N must stay under
 * both processes' limit (`ulimit -n`), checked before the run.
 */
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { sleep } from './clients.js'
import { LeanClient } from './lean-client.js'
import { cpuSeconds, rssBytes } from './proc.js'
import type { Target, TargetName, Transport } from './targets.js'

/** connections being set up at once: Mosquitto listens with a backlog of 100 */
const CONCURRENCY = 50
const SETTLE_MS = 2000
/** descriptors the bench and the brokers need besides the connections */
const SPARE_FDS = 100

export interface IdleOptions { transport: Transport, connections: number, round: number }

export interface IdleRow {
  target: TargetName
  transport: Transport
  round: number
  connections: number
  rssBeforeBytes: number | null
  rssAfterBytes: number | null
  /** (after − before) ÷ connections */
  bytesPerConnection: number | null
  /** from the first CONNECT to the last SUBACK */
  connectSeconds: number
  /** broker CPU time while the connections were set up, per connection */
  brokerCpuMicrosPerConnection: number | null
  /** the bench's own process while it set them up, % of one core: near 100, `connect s` measured the bench */
  benchCpuPercent: number
}

export async function runIdle (target: Target, options: IdleOptions): Promise<IdleRow> {
  checkFileLimit(options.connections, process.pid, 'the bench')
  checkFileLimit(options.connections, target.pid, target.name)
  const url = target.url(options.transport)
  const clients: LeanClient[] = []
  let failure: Error | undefined
  try {
    await sleep(SETTLE_MS)
    const rssBefore = rssBytes(target.pid)
    const cpuBefore = cpuSeconds(target.pid)
    const benchCpu = process.cpuUsage()
    const startedAt = performance.now()
    let next = 0
    const connectNext = async (): Promise<void> => {
      while (next < options.connections && failure === undefined) {
        const i = next++
        const client = await LeanClient.connect(url, { clientId: `bench-idle-${options.transport}-${process.pid}-${i}`, clean: true, keepalive: 60 }, { lost: (err) => { failure ??= err } })
        clients.push(client)
        const granted = await client.subscribe(`bench/idle/${i}`, 1)
        if (granted !== 1) throw new Error(`subscription of idle connection ${i} refused (granted ${granted})`)
      }
    }
    // allSettled: every loop stops (at `failure`) before the clients are closed
    const settled = await Promise.allSettled(Array.from({ length: CONCURRENCY }, () => connectNext().catch((err: unknown) => {
      failure ??= err instanceof Error ? err : new Error(String(err))
      throw err
    })))
    if (failure || settled.some((s) => s.status === 'rejected')) throw failure ?? new Error('idle connections failed')
    const connectSeconds = (performance.now() - startedAt) / 1000
    const cpuAfter = cpuSeconds(target.pid)
    const benchUsed = process.cpuUsage(benchCpu)
    await sleep(SETTLE_MS)
    if (failure) throw failure
    const rssAfter = rssBytes(target.pid)
    return {
      target: target.name,
      transport: options.transport,
      round: options.round,
      connections: options.connections,
      rssBeforeBytes: rssBefore ?? null,
      rssAfterBytes: rssAfter ?? null,
      bytesPerConnection: rssBefore !== undefined && rssAfter !== undefined ? (rssAfter - rssBefore) / options.connections : null,
      connectSeconds,
      brokerCpuMicrosPerConnection: cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) / options.connections) * 1e6 : null,
      benchCpuPercent: ((benchUsed.user + benchUsed.system) / 1e6 / connectSeconds) * 100
    }
  } finally {
    for (const client of clients) client.destroy()
  }
}

/** Fails early, with the remedy, when `connections` would not fit under a process's open-file limit. */
function checkFileLimit (connections: number, pid: number, who: string): void {
  const limit = openFileLimit(pid)
  if (limit !== undefined && connections + SPARE_FDS > limit) {
    throw new Error(`--idle-connections ${connections}: ${who} may open only ${limit} files (ulimit -n); raise it (e.g. \`ulimit -n 65536\` in the shell that runs the bench, within the hard limit \`ulimit -Hn\`) or lower --idle-connections`)
  }
}

/** The soft "Max open files" of a process, from /proc/<pid>/limits. */
function openFileLimit (pid: number): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1]
    return line === undefined || line === 'unlimited' ? undefined : Number(line)
  } catch {
    return undefined
  }
}
