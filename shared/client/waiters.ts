/**
 * Commands answered by an event rather than by their PUBACK alone — `recall` and `edit` — wait
 * here for the event that confirms them, or the `error` event carrying their `cmid`, or a timeout.
 */
import type { ImEvent } from '../protocol.js'
import { ImClientError } from './errors.js'
import type { TimerHandle, Timers } from './timers.js'

interface Waiter {
  match: (event: ImEvent) => unknown
  resolve: (value: unknown) => void
  reject: (error: Error) => void
  timer: TimerHandle
}

export class Waiters {
  readonly #timers: Timers
  readonly #timeoutMs: number
  readonly #waiting = new Map<string, Waiter>()

  constructor (timers: Timers, timeoutMs: number) {
    this.#timers = timers
    this.#timeoutMs = timeoutMs
  }

  /** Resolves with what `match` returns for the first event it does not return `undefined` for. */
  wait<T> (cmid: string, match: (event: ImEvent) => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#timers.setTimeout(() => {
        this.fail(cmid, new ImClientError('CLIENT_TIMEOUT', `no answer to command ${cmid} within ${this.#timeoutMs} ms`))
      }, this.#timeoutMs)
      this.#waiting.set(cmid, { match, resolve: resolve as (value: unknown) => void, reject, timer })
    })
  }

  offer (event: ImEvent): void {
    for (const [cmid, waiter] of this.#waiting) {
      const value = waiter.match(event)
      if (value === undefined) continue
      this.#remove(cmid, waiter)
      waiter.resolve(value)
    }
  }

  fail (cmid: string, error: Error): boolean {
    const waiter = this.#waiting.get(cmid)
    if (!waiter) return false
    this.#remove(cmid, waiter)
    waiter.reject(error)
    return true
  }

  failAll (error: Error): void {
    for (const cmid of [...this.#waiting.keys()]) this.fail(cmid, error)
  }

  #remove (cmid: string, waiter: Waiter): void {
    this.#timers.clearTimeout(waiter.timer)
    this.#waiting.delete(cmid)
  }
}
