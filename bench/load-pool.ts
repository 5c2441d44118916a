/**
 * The load generator of the comparison relay: `--load-procs` worker processes (load-worker.ts),
 * each running a share of the pairs (pair i in process i mod N) on its own core, so that the
 * brokers, not the load, saturate first. The parent only orders phases and adds up the reports;
 * each process measures its own CPU, so that a saturated one shows.
 */
import { Child } from './child.js'
import { PROJECT_ROOT } from './broker-process.js'
import { split } from './clients.js'
import type { FinalCounts, PhaseReport, RelaySetup } from './lean-relay.js'
import type { WorkerReply, WorkerRequest } from './load-worker.js'

const START_TIMEOUT_MS = 30_000

/** What one phase gave, all load processes together. */
export interface PoolPhase {
  expected: number
  delivered: number
  /** from the earliest start to the latest delivery, any process */
  durationSeconds: number
  latencies: Float64Array
  /** each load process's CPU during the phase, % of one core */
  loadCpuPercent: number[]
  /** all load processes together, CPU-seconds */
  loadCpuSeconds: number
}

type Request = WorkerRequest extends infer R ? R extends unknown ? Omit<R, 'id'> : never : never

class Worker {
  readonly #child: Child
  readonly #waiting = new Map<number, { resolve: (value: unknown) => void, reject: (err: Error) => void }>()
  #nextId = 0

  constructor () {
    this.#child = new Child(process.execPath, ['--import', 'tsx', 'bench/load-worker.ts'], {
      cwd: PROJECT_ROOT,
      ipc: true,
      onLine: (line) => process.stderr.write(`[load] ${line}\n`)
    })
    this.#child.process.on('message', (reply: WorkerReply) => {
      const waiter = this.#waiting.get(reply.id)
      this.#waiting.delete(reply.id)
      if (reply.ok) waiter?.resolve(reply.result)
      else waiter?.reject(new Error(`load process: ${reply.error}`))
    })
    void this.#child.exited.then(() => {
      for (const waiter of this.#waiting.values()) waiter.reject(new Error(`load process exited\n${this.#child.output()}`))
      this.#waiting.clear()
    })
  }

  get pid (): number { return this.#child.pid }

  call<T> (request: Request): Promise<T> {
    const id = ++this.#nextId
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.#child.process.send({ ...request, id } as WorkerRequest)
    })
  }

  /** Resolves once the process answers (its modules are loaded). */
  async ready (): Promise<void> {
    await this.#child.until(this.call({ type: 'close' }), 'a load process', START_TIMEOUT_MS)
  }

  stop (): Promise<void> { return this.#child.stop() }
}

export class LoadPool {
  readonly #workers: Worker[]
  /** per worker: how many pairs it runs */
  #shares: number[] = []

  private constructor (workers: Worker[]) {
    this.#workers = workers
  }

  static async start (procs: number): Promise<LoadPool> {
    const pool = new LoadPool(Array.from({ length: procs }, () => new Worker()))
    try {
      await Promise.all(pool.#workers.map((w) => w.ready()))
    } catch (err) {
      await pool.stop()
      throw err
    }
    return pool
  }

  get size (): number { return this.#workers.length }

  /** Connects `pairs` pairs, shared out among the processes. */
  async connect (setup: Omit<RelaySetup, 'pairs'>, pairs: number): Promise<void> {
    const assigned = this.#workers.map((_, w) => Array.from({ length: pairs }, (_, i) => i).filter((i) => i % this.#workers.length === w))
    this.#shares = assigned.map((a) => a.length)
    await Promise.all(this.#workers.map((worker, w) => worker.call({ type: 'connect', setup: { ...setup, pairs: assigned[w] as number[], idPrefix: `${setup.idPrefix}-${w}` } })))
  }

  /** Runs one phase of `total` messages shared out among all pairs. */
  async runPhase (phase: number, total: number, measure: boolean, stallMs: number): Promise<PoolPhase> {
    const counts = split(total, this.#shares.reduce((a, b) => a + b, 0))
    // pair i runs in process i mod N: process w gets counts w, w+N, w+2N…
    const n = this.#workers.length
    const reports = await Promise.all(this.#workers.map((worker, w) => worker.call<PhaseReport>({
      type: 'phase', phase, measure, stallMs, counts: counts.filter((_, i) => i % n === w)
    })))
    const active = reports.filter((r) => r.expected > 0)
    const startedAt = Math.min(...active.map((r) => r.startedAt))
    const lastDeliveryAt = Math.max(...active.map((r) => r.lastDeliveryAt))
    const latencies = new Float64Array(reports.reduce((sum, r) => sum + r.latencies.length, 0))
    let at = 0
    for (const r of reports) {
      latencies.set(r.latencies, at)
      at += r.latencies.length
    }
    return {
      expected: reports.reduce((sum, r) => sum + r.expected, 0),
      delivered: reports.reduce((sum, r) => sum + r.delivered, 0),
      durationSeconds: active.length > 0 && lastDeliveryAt > startedAt ? (lastDeliveryAt - startedAt) / 1000 : 0,
      latencies,
      loadCpuPercent: reports.map((r) => r.wallSeconds > 0 ? (r.cpuSeconds / r.wallSeconds) * 100 : 0),
      loadCpuSeconds: reports.reduce((sum, r) => sum + r.cpuSeconds, 0)
    }
  }

  /** Disconnects every pair; the final counts of every phase, all processes together. */
  async close (): Promise<FinalCounts> {
    const all = await Promise.all(this.#workers.map((w) => w.call<FinalCounts | null>({ type: 'close' })))
    const phases: FinalCounts['phases'] = []
    let unexpected = 0
    for (const counts of all) {
      if (!counts) continue
      unexpected += counts.unexpected
      counts.phases.forEach((p, i) => {
        const sum = phases[i] ??= { expected: 0, delivered: 0, duplicates: 0 }
        sum.expected += p.expected
        sum.delivered += p.delivered
        sum.duplicates += p.duplicates
      })
    }
    return { phases, unexpected }
  }

  async stop (): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.stop()))
  }
}
