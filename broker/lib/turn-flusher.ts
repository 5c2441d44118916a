/**
 * The scheduling half of group commit: `flush` runs at most once per event-loop turn and never
 * twice at once — what is asked for while one flush is under way waits for the next. So writes
 * land in the order they were asked for, one round trip for a turn's worth. The stores that
 * batch (store/level/write-batch.ts, the MongoDB queue inserts and session records) keep their
 * own buffers and outcome rules and call `schedule()` when they have something to write.
 */
export class TurnFlusher {
  readonly #flush: () => Promise<void>
  readonly #hasMore: () => boolean
  #scheduled = false
  #running = false

  /** `flush` takes what is buffered and writes it; `hasMore` tells whether more was buffered meanwhile. */
  constructor (flush: () => Promise<void>, hasMore: () => boolean) {
    this.#flush = flush
    this.#hasMore = hasMore
  }

  schedule (): void {
    if (this.#scheduled || this.#running) return
    this.#scheduled = true
    setImmediate(() => { void this.#run() })
  }

  async #run (): Promise<void> {
    this.#scheduled = false
    this.#running = true
    try {
      await this.#flush()
    } finally {
      this.#running = false
      if (this.#hasMore()) this.schedule()
    }
  }
}
