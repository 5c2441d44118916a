/** `ClockController`: the current time, re-rendering its host every `everyMs` while connected (wait times). */
import type { ReactiveController, ReactiveControllerHost } from 'lit'

export class ClockController implements ReactiveController {
  readonly #host: ReactiveControllerHost
  readonly #everyMs: number
  #timer: ReturnType<typeof setInterval> | undefined
  now = Date.now()

  constructor (host: ReactiveControllerHost, everyMs = 1000) {
    this.#host = host
    this.#everyMs = everyMs
    host.addController(this)
  }

  hostConnected (): void {
    this.now = Date.now()
    this.#timer = setInterval(() => { this.now = Date.now(); this.#host.requestUpdate() }, this.#everyMs)
  }

  hostDisconnected (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
