/**
 * Serializes async work per key inside this process. LevelDB has no compare-and-set, and the
 * embedded store is single-node by design, so a read-then-write (create if absent) is made atomic
 * by running it alone for its key. The MongoDB stores use unique indexes instead.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>()

  async run<T> (key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    const current = previous.then(work, work)
    const tail = current.catch(() => undefined)
    this.#tails.set(key, tail)
    try {
      return await current
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }
}
