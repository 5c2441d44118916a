/**
 * Watches for the moment to let go of the connection: the page hidden (another tab, minimized,
 * screen off) and no sign of the visitor since, for `idleMs`. Then `release` is called; the first
 * sign of life afterwards (the page visible again, a key, a click, a touch) calls `resume`.
 * A hidden tab's timers are throttled by the browser, so the release may come somewhat late,
 * never early: the elapsed time is measured on the clock, not by counting ticks.
 */
const RETRY_MS = 5000
const ACTIVITY = ['pointerdown', 'keydown', 'touchstart', 'wheel'] as const

export interface PageActivityOptions {
  idleMs: number
  /** false: not now (e.g. a send is still on its way); asked again a little later */
  release (): boolean
  resume (): void
}

export class PageActivity {
  readonly #o: PageActivityOptions
  #lastActivity = Date.now()
  #timer: ReturnType<typeof setTimeout> | undefined
  #released = false

  constructor (o: PageActivityOptions) {
    this.#o = o
    document.addEventListener('visibilitychange', this.#onVisibility)
    for (const type of ACTIVITY) window.addEventListener(type, this.#onActivity, { capture: true, passive: true })
    if (document.visibilityState === 'hidden') this.#arm()
  }

  get released (): boolean { return this.#released }

  /** The session came back by itself (e.g. the visitor opened the panel): nothing to resume. */
  resumed (): void {
    this.#released = false
  }

  stop (): void {
    this.#disarm()
    document.removeEventListener('visibilitychange', this.#onVisibility)
    for (const type of ACTIVITY) window.removeEventListener(type, this.#onActivity, { capture: true })
  }

  readonly #onVisibility = (): void => {
    if (document.visibilityState === 'hidden') {
      // Hiding the page starts the idle clock: reading a visible page is not being away.
      this.#lastActivity = Date.now()
      this.#arm()
    } else {
      this.#onActivity()
    }
  }

  readonly #onActivity = (): void => {
    this.#lastActivity = Date.now()
    this.#disarm()
    if (this.#released) {
      this.#released = false
      this.#o.resume()
    }
    if (document.visibilityState === 'hidden') this.#arm()
  }

  #arm (): void {
    if (this.#o.idleMs <= 0 || this.#released) return
    this.#disarm()
    const check = (): void => {
      const idle = Date.now() - this.#lastActivity
      if (document.visibilityState !== 'hidden') return
      if (idle >= this.#o.idleMs) {
        this.#timer = undefined
        if (this.#o.release()) this.#released = true
        else this.#timer = setTimeout(check, RETRY_MS)
      } else {
        this.#timer = setTimeout(check, this.#o.idleMs - idle)
      }
    }
    this.#timer = setTimeout(check, Math.max(0, this.#o.idleMs - (Date.now() - this.#lastActivity)))
  }

  #disarm (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
