/**
 * Exponential backoff for reconnecting: 1 s, 2 s, 4 s … capped at 30 s, back to 1 s after a
 * successful connect. Optional jitter (a fraction of the delay, taken off at random) spreads the
 * reconnects of many clients after a broker restart; it is off by default so delays are exact.
 */
import type { Random } from './timers.js'

export interface BackoffOptions {
  /** first delay (default 1000 ms) */
  initialMs?: number
  /** the cap (default 30 000 ms) */
  maxMs?: number
  /** growth factor (default 2) */
  factor?: number
  /** 0 ≤ jitter ≤ 1: each delay is reduced by up to this fraction at random (default 0) */
  jitter?: number
  random?: Random
}

export class Backoff {
  readonly #initialMs: number
  readonly #maxMs: number
  readonly #factor: number
  readonly #jitter: number
  readonly #random: Random
  #attempt = 0

  constructor ({ initialMs = 1000, maxMs = 30_000, factor = 2, jitter = 0, random = Math.random }: BackoffOptions = {}) {
    if (!(initialMs > 0) || !(maxMs >= initialMs) || !(factor >= 1) || !(jitter >= 0 && jitter <= 1)) {
      throw new RangeError('backoff: need 0 < initialMs ≤ maxMs, factor ≥ 1, 0 ≤ jitter ≤ 1')
    }
    this.#initialMs = initialMs
    this.#maxMs = maxMs
    this.#factor = factor
    this.#jitter = jitter
    this.#random = random
  }

  /** How many delays were handed out since the last reset. */
  get attempt (): number {
    return this.#attempt
  }

  /** The delay before the next attempt; each call grows the next one. */
  next (): number {
    const base = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt)
    this.#attempt++
    return Math.round(base * (1 - this.#jitter * this.#random()))
  }

  reset (): void {
    this.#attempt = 0
  }
}
