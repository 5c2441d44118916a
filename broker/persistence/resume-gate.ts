/**
 * Keeps a resumed session's backlog in order. [IM-SYNC-2], [MQTT-4.6.0-6]
 *
 * When a persistent session reconnects, aedes restores its subscriptions before it streams the
 * stored queue, so a message published meanwhile would overtake the backlog (seq 31 arriving
 * between 4 and 5). While a client's queue is being streamed, the gate holds such live QoS > 0
 * deliveries back — they are in the queue already, aedes stored them before delivering — and
 * the stream sends them after the backlog, once each, in arrival order. A live delivery whose
 * queued copy the stream already sent is dropped as the duplicate it is.
 */

export interface QueuedRef { brokerId: string, brokerCounter: number, qos: number, retain?: boolean }

interface Draining<P extends QueuedRef> {
  /** packets the stream handed to aedes; aedes asks about each once, right before writing it */
  fromStream: Set<string>
  /** resolves when aedes has asked about every packet handed out so far */
  caughtUp?: () => void
  /** packets the stream has sent */
  sent: Set<string>
  /** live packets held back, in arrival order */
  held: P[]
}

const CATCH_UP_LIMIT_MS = 5000
const keyOf = (p: QueuedRef): string => `${p.brokerId}:${p.brokerCounter}`

export class ResumeGate<P extends QueuedRef = QueuedRef> {
  readonly #draining = new Map<string, Draining<P>>()

  /**
   * Wraps the stream of a client's stored queue: the stored packets, then what was held back,
   * and the gate opens in the same step as it finds nothing more held.
   */
  async * stream (clientId: string, stored: AsyncIterable<P>, persistent: boolean): AsyncGenerator<P> {
    // Only a persistent session's live deliveries are in its queue; a clean session's are not.
    if (!persistent) { yield * stored; return }
    const state: Draining<P> = { fromStream: new Set(), sent: new Set(), held: [] }
    this.#draining.set(clientId, state)
    try {
      for await (const packet of stored) yield this.#handOut(state, packet)
      // Readable.from reads ahead of the socket: the gate may open only once aedes has taken
      // every packet handed out, and nothing more was held back meanwhile.
      for (;;) {
        for (let next = state.held.shift(); next !== undefined; next = state.held.shift()) {
          if (!state.sent.has(keyOf(next))) yield this.#handOut(state, next)
        }
        await this.#caughtUp(state)
        if (state.held.length === 0) break
      }
    } finally {
      if (this.#draining.get(clientId) === state) this.#draining.delete(clientId)
    }
  }

  /** Asked for every delivery: `true` lets it go now; `false` means held back or a duplicate. */
  admit (clientId: string, packet: P): boolean {
    const state = this.#draining.get(clientId)
    if (!state || packet.brokerId === undefined) return true
    const key = keyOf(packet)
    // checked first: a queued copy may carry `retain` (aedes queues a retained QoS 1 publish as it is)
    if (state.fromStream.delete(key)) {
      if (state.fromStream.size === 0) state.caughtUp?.()
      return true
    }
    // QoS 0 and retained copies of a live delivery are never queued: they go out as they come.
    if (packet.qos === 0 || packet.retain) return true
    if (!state.sent.has(key) && !state.held.some((p) => keyOf(p) === key)) state.held.push(packet)
    return false
  }

  /** Waits until aedes asked about every packet handed out (at most a few seconds, should a write fail). */
  async #caughtUp (state: Draining<P>): Promise<void> {
    if (state.fromStream.size === 0) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CATCH_UP_LIMIT_MS)
      state.caughtUp = () => { clearTimeout(timer); state.caughtUp = undefined; resolve() }
    })
  }

  #handOut (state: Draining<P>, packet: P): P {
    const key = keyOf(packet)
    state.fromStream.add(key)
    state.sent.add(key)
    return packet
  }
}
