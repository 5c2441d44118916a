/**
 * Fans a conversation's messages out in seq order while their writes overlap. A send takes its
 * seq and asks for its write under the conversation's order, then joins this line; a message is
 * published once it is stored and every message ahead of it in the line has been published, so
 * every inbox — and every offline queue, whose order is the publish order — gets the
 * conversation's messages in seq order. [IM-SYNC-2]
 *
 * Published means handed to the broker: the next message does not wait for the previous one's
 * deliveries to finish (the broker keeps the order of what it is handed), only for its hand-over.
 */
interface Entry<T> {
  stored?: T
  failed?: { error: unknown }
  publish: (value: T) => Promise<void>
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

export class OrderedFanOut<T> {
  readonly #lines = new Map<string, Array<Entry<T>>>()

  /**
   * Joins `key`'s line; call in seq order. Resolves with the stored value once `publish` of it has
   * finished; rejects when storing or publishing it failed.
   */
  async join (key: string, stored: Promise<T>, publish: (value: T) => Promise<void>): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      const entry: Entry<T> = { publish, resolve, reject }
      let line = this.#lines.get(key)
      if (!line) this.#lines.set(key, line = [])
      line.push(entry)
      stored.then(
        (value) => { entry.stored = value; this.#pump(key) },
        (error: unknown) => { entry.failed = { error }; this.#pump(key) }
      )
    })
  }

  /** Hands over, in order, every message at the head of the line that is stored. */
  #pump (key: string): void {
    const line = this.#lines.get(key)
    if (!line) return
    while (line.length > 0 && (line[0]!.stored !== undefined || line[0]!.failed !== undefined)) {
      const entry = line.shift()!
      if (entry.failed) {
        entry.reject(entry.failed.error)
        continue
      }
      const value = entry.stored as T
      // publish runs synchronously up to the broker's hand-over, so the next one starts after it
      entry.publish(value).then(() => { entry.resolve(value) }, entry.reject)
    }
    if (line.length === 0) this.#lines.delete(key)
  }
}
