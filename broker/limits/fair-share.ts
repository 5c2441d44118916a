/**
 * A budget per key (a site) and window, shared fairly between sources (address prefixes): a source
 * may hold at most `sharePercent` of the budget still open to it — what is left plus what it took
 * itself. [IM-LIMIT-FAIR]
 *
 * A fixed share of the whole budget would not do: 21 sources at 5 % each spend it all. This share
 * shrinks as others spend the budget, so N sources flooding at once level off at
 * N·s / (1 + (N−1)·s) of the budget (s = the share): with 5 %, 21 sources take 53 %, 40 take 68 %,
 * 100 take 84 % — and a source that has taken nothing yet (a real visitor from a fresh address)
 * still gets in while anything is left. Only the budget as a whole stops everyone. When the site
 * is quiet one source may take `sharePercent` of the whole budget; at 100 % fairness is off.
 *
 * Synchronous, in memory: one window per key at a time, one count per source that took something
 * in it, so memory follows the budget (at most `perWindow` sources per key).
 */
export interface FairShareOptions {
  /** what a key may spend in one window */
  perWindow: number
  /** the most one source may take of what is left, in percent */
  sharePercent: number
  windowMs: number
  now?: () => number
}

/** Why a take was refused, and in how many ms the window (and with it every count) starts over. */
export interface FairShareRefusal { limit: 'budget' | 'share', retryMs: number }

interface Window { endsAt: number, used: number, bySource: Map<string, number> }

export class FairShareBudget {
  readonly #options: Required<FairShareOptions>
  readonly #windows = new Map<string, Window>()
  #sweepAt = 0

  constructor (options: FairShareOptions) {
    this.#options = { now: Date.now, ...options }
  }

  /** Takes one unit of `key`'s budget for `source`; undefined when taken, else why not. */
  take (key: string, source: string): FairShareRefusal | undefined {
    const now = this.#options.now()
    this.#sweep(now)
    let window = this.#windows.get(key)
    if (!window || window.endsAt <= now) {
      window = { endsAt: now + this.#options.windowMs, used: 0, bySource: new Map() }
      this.#windows.set(key, window)
    }
    const left = this.#options.perWindow - window.used
    const taken = window.bySource.get(source) ?? 0
    const retryMs = window.endsAt - now
    if (left <= 0) return { limit: 'budget', retryMs }
    if (taken >= (left + taken) * this.#options.sharePercent / 100) return { limit: 'share', retryMs }
    window.used++
    window.bySource.set(source, taken + 1)
    return undefined
  }

  /** keys with a window in memory */
  get size (): number {
    return this.#windows.size
  }

  /** Forgets windows that ended, at most once per window length. */
  #sweep (now: number): void {
    if (now < this.#sweepAt) return
    this.#sweepAt = now + this.#options.windowMs
    for (const [key, window] of this.#windows) if (window.endsAt <= now) this.#windows.delete(key)
  }
}
