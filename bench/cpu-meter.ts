/**
 * CPU time of several processes over one measured phase — the broker nodes, the MongoDB and the
 * Redis the bench started, the bench itself — and of the whole machine, for the `cluster` suite.
 * A run (relay.ts, workload.ts) calls `begin()` right before its measured phase and `end()` right
 * after, at the same points where it reads its one broker's CPU time.
 *
 * Each process is read from `/proc/<pid>/task/<tid>/schedstat` (thread-cpu.ts: nanoseconds, every
 * thread), else from `/proc/<pid>/stat` (10 ms clock ticks); `null` where neither is readable (a
 * server the bench did not start, or no /proc).
 */
import { performance } from 'node:perf_hooks'
import { cpuSeconds, machineBusySeconds } from './proc.js'
import { threadCpuNs } from './thread-cpu.js'

/** What a run calls around its measured phase (after the warm-up has completed). */
export interface PhaseHooks {
  begin (): void
  end (): void
}

/** One process to watch: `name` is what the tables show (`node 1`, `FerretDB`, `Redis`, `bench`). */
export interface Watched { name: string, pid: number | undefined }

export interface ProcessCpu {
  name: string
  /** CPU-seconds used during the phase, all threads; null when it could not be read */
  seconds: number | null
}

export interface PhaseCpu {
  wallSeconds: number
  processes: ProcessCpu[]
  /** every process of the machine (user + nice + system + steal), CPU-seconds; null without /proc */
  machineSeconds: number | null
}

export class CpuMeter implements PhaseHooks {
  #startedAt = 0
  #before: Array<number | undefined> = []
  #machineBefore: number | undefined
  #result: PhaseCpu | undefined

  constructor (readonly watched: Watched[]) {}

  begin (): void {
    this.#result = undefined
    this.#before = this.watched.map((w) => processSeconds(w.pid))
    this.#machineBefore = machineBusySeconds()
    this.#startedAt = performance.now()
  }

  end (): void {
    const wallSeconds = (performance.now() - this.#startedAt) / 1000
    const machineAfter = machineBusySeconds()
    this.#result = {
      wallSeconds,
      processes: this.watched.map((w, i) => ({ name: w.name, seconds: difference(this.#before[i], processSeconds(w.pid)) })),
      machineSeconds: difference(this.#machineBefore, machineAfter)
    }
  }

  /** The last phase measured; throws when none was (the run failed before its measured phase). */
  get result (): PhaseCpu {
    if (this.#result === undefined) throw new Error('the measured phase did not run')
    return this.#result
  }
}

function processSeconds (pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  const threads = threadCpuNs(pid)
  return threads === undefined ? cpuSeconds(pid) : threads.all / 1e9
}

function difference (before: number | undefined, after: number | undefined): number | null {
  return before === undefined || after === undefined ? null : Math.max(0, after - before)
}
