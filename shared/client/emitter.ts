/**
 * A tiny typed event emitter for code that runs in Node and the browser (no `node:events`).
 * The event map names every event and its payload, like MQTT.js' `TypedEmitter`:
 *
 *   const e = new Emitter<{ message: Message, closed: { error?: Error } }>()
 *   const off = e.on('message', (m) => …)   // returns its own unsubscribe
 *
 * A listener that throws does not stop the others nor the code that emitted: the error is
 * rethrown on a fresh task, where it surfaces as an uncaught error (as with `node:events`) instead
 * of leaving the emitter's owner half way through a state change.
 */

export type Listener<T> = (payload: T) => void

/** Any listener: the map keeps them untyped; `on`/`emit` pair each event with its payload type. */
type AnyListener = Listener<never>

export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, AnyListener[]>()

  on<K extends keyof Events> (event: K, listener: Listener<Events[K]>): () => void {
    const list = this.#listeners.get(event) ?? []
    // Copy on write, so a listener that (un)subscribes during an emit does not disturb it.
    this.#listeners.set(event, [...list, listener])
    return () => { this.off(event, listener) }
  }

  once<K extends keyof Events> (event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off()
      listener(payload)
    })
    return off
  }

  off<K extends keyof Events> (event: K, listener: Listener<Events[K]>): void {
    const list = this.#listeners.get(event)
    if (!list) return
    const index = list.indexOf(listener)
    if (index < 0) return
    const next = [...list.slice(0, index), ...list.slice(index + 1)]
    if (next.length === 0) this.#listeners.delete(event)
    else this.#listeners.set(event, next)
  }

  listenerCount (event: keyof Events): number {
    return this.#listeners.get(event)?.length ?? 0
  }

  removeAllListeners (): void {
    this.#listeners.clear()
  }

  /** Resolves with the next payload of `event`. */
  next<K extends keyof Events> (event: K): Promise<Events[K]> {
    return new Promise((resolve) => { this.once(event, resolve) })
  }

  protected emit<K extends keyof Events> (event: K, payload: Events[K]): void {
    const list = this.#listeners.get(event)
    if (!list) return
    for (const listener of list) {
      try {
        (listener as Listener<Events[K]>)(payload)
      } catch (err) {
        setTimeout(() => { throw err }, 0)
      }
    }
  }
}
