/**
 * A set that remembers only the most recent `capacity` keys: enough to drop events that arrive
 * twice (QoS 1 re-delivery, an idempotent retry's second echo) without growing forever.
 */
export class RecentSet {
  readonly #capacity: number
  readonly #keys = new Set<string>()

  constructor (capacity = 10_000) {
    this.#capacity = capacity
  }

  has (key: string): boolean {
    return this.#keys.has(key)
  }

  /** Adds `key`; false when it was there already. */
  add (key: string): boolean {
    if (this.#keys.has(key)) return false
    this.#keys.add(key)
    if (this.#keys.size > this.#capacity) {
      // A Set iterates in insertion order: the first key is the oldest.
      const oldest = this.#keys.values().next().value
      if (oldest !== undefined) this.#keys.delete(oldest)
    }
    return true
  }
}
