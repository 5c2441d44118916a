/**
 * Group commit for the embedded store: the writes asked for within one event-loop turn go to
 * LevelDB as one batch, and every caller's promise settles when that batch is written. A turn of
 * 100 PUBACKs costs one write instead of 100. [IM-PERF-1]
 *
 * Batches are written one after the other, never two at once: what is asked for while a batch is
 * being written goes into the next one. So writes land in the order they were asked for, also
 * for callers that do not wait (a later delete never overtakes an earlier put of the same key).
 *
 * A batch that fails fails everything asked for behind it too (it may build on the failed writes:
 * the next seq of a conversation), and `epoch` moves on, synchronously, before any caller hears
 * of it: a cache that assumed the writes would land compares epochs and starts over.
 */
import { TurnFlusher } from '../../lib/turn-flusher.js'
import type { RootDb } from './open.js'

export interface BatchOp { type: 'put' | 'del', sublevel: unknown, key: string, value?: unknown, valueEncoding?: 'buffer' | 'utf8' | 'json' }

interface Waiting { resolve: () => void, reject: (err: unknown) => void }

export class WriteBatch {
  readonly #root: RootDb
  #ops: BatchOp[] = []
  #waiting: Waiting[] = []
  readonly #flusher = new TurnFlusher(async () => { await this.#flush() }, () => this.#ops.length > 0)
  #epoch = 0
  readonly #onFailure: Array<() => void> = []

  constructor (root: RootDb) {
    this.#root = root
  }

  /** Moves on each time a batch fails; a cache built on writes still in flight is stale once it has. */
  get epoch (): number { return this.#epoch }

  /** `listener` runs synchronously when a batch fails, before any caller's promise settles. */
  onFailure (listener: () => void): void {
    this.#onFailure.push(listener)
  }

  /** Resolves once `ops` are written, together with everything else asked for in this turn. */
  async write (ops: readonly BatchOp[]): Promise<void> {
    if (ops.length === 0) return
    for (const op of ops) this.#ops.push(op)
    const done = new Promise<void>((resolve, reject) => { this.#waiting.push({ resolve, reject }) })
    this.#flusher.schedule()
    await done
  }

  async #flush (): Promise<void> {
    const ops = this.#ops
    const waiting = this.#waiting
    this.#ops = []
    this.#waiting = []
    try {
      await (this.#root.batch as (ops: BatchOp[]) => Promise<void>).call(this.#root, ops)
      for (const w of waiting) w.resolve()
    } catch (err) {
      const behind = this.#waiting
      this.#ops = []
      this.#waiting = []
      this.#epoch++
      for (const listener of this.#onFailure) listener()
      for (const w of [...waiting, ...behind]) w.reject(err)
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
