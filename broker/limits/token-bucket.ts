/**
 * A token bucket per key, synchronous: it sits on the command hot path (every command on an
 * outbox), where a promise and a timer per call would cost more than the command's own check.
 * A key holds up to `burst` tokens and gains `perSecond` tokens a second. Keys whose bucket is
 * full again are forgotten, so memory follows the number of recently active keys.
 */
export interface TokenBucketOptions {
  perSecond: number
  burst: number
  now?: () => number
}

interface Bucket { tokens: number, at: number }

export class TokenBucket {
  readonly #perMs: number
  readonly #burst: number
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()
  #sweepAt = 0

  constructor ({ perSecond, burst, now = Date.now }: TokenBucketOptions) {
    this.#perMs = perSecond / 1000
    this.#burst = burst
    this.#now = now
  }

  /** Takes one token for `key`: 0 when it was there, otherwise the milliseconds until the next one. */
  take (key: string): number {
    const now = this.#now()
    this.#sweep(now)
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs)
    bucket.at = now
    this.#buckets.set(key, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.ceil((1 - bucket.tokens) / this.#perMs)
  }

  get size (): number {
    return this.#buckets.size
  }

  /** Forgets full buckets, at most once per refill time. */
  #sweep (now: number): void {
    if (now < this.#sweepAt) return
    this.#sweepAt = now + Math.max(1000, this.#burst / this.#perMs)
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.#burst) this.#buckets.delete(key)
    }
  }
}
