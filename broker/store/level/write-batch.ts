/**
 * Group commit for the embedded store: the writes asked for within one event-loop turn go to
 * LevelDB as one batch, and every caller's promise settles when that batch is written. A turn of
 * 100 PUBACKs costs one write instead of 100. [IM-PERF-1]
 */
import type { RootDb } from './open.js'

export interface BatchOp { type: 'put' | 'del', sublevel: unknown, key: string, value?: unknown }

export class WriteBatch {
  readonly #root: RootDb
  #ops: BatchOp[] = []
  #waiting: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []
  #scheduled = false

  constructor (root: RootDb) {
    this.#root = root
  }

  /** Resolves once `ops` are written, together with everything else asked for in this turn. */
  async write (ops: readonly BatchOp[]): Promise<void> {
    if (ops.length === 0) return
    this.#ops.push(...ops)
    const done = new Promise<void>((resolve, reject) => { this.#waiting.push({ resolve, reject }) })
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => { void this.#flush() })
    }
    await done
  }

  async #flush (): Promise<void> {
    const ops = this.#ops
    const waiting = this.#waiting
    this.#ops = []
    this.#waiting = []
    this.#scheduled = false
    try {
      await (this.#root.batch as (ops: BatchOp[]) => Promise<void>).call(this.#root, ops)
      for (const w of waiting) w.resolve()
    } catch (err) {
      for (const w of waiting) w.reject(err)
    }
  }
}

const batches = new WeakMap<RootDb, WriteBatch>()

/** The one batch of this database: every store and the MQTT persistence share it, one write a turn. */
export function writeBatchOf (root: RootDb): WriteBatch {
  let batch = batches.get(root)
  if (!batch) batches.set(root, batch = new WriteBatch(root))
  return batch
}
