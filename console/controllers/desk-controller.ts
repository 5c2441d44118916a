/** `DeskController`: re-renders its host whenever the desk it follows changes. */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { Desk } from '../state/desk.js'

export class DeskController implements ReactiveController {
  readonly #host: ReactiveControllerHost
  #desk: Desk | undefined
  #off: (() => void) | undefined

  constructor (host: ReactiveControllerHost) {
    this.#host = host
    host.addController(this)
  }

  get desk (): Desk | undefined { return this.#desk }

  /** Follows `desk` (or nothing); the previous one is let go, not disposed. */
  follow (desk: Desk | undefined): void {
    this.#off?.()
    this.#desk = desk
    // Many events can land in one task (a resync): Lit batches the updates they request.
    this.#off = desk?.on('change', () => { this.#host.requestUpdate() })
    this.#host.requestUpdate()
  }

  hostDisconnected (): void {
    this.#off?.()
    this.#off = undefined
  }

  hostConnected (): void {
    if (this.#desk && !this.#off) this.#off = this.#desk.on('change', () => { this.#host.requestUpdate() })
  }
}
