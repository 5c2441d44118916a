/**
 * Keeps a resumed session's backlog in order, and lets every packet of it go. [IM-SYNC-2], [MQTT-4.6.0-6]
 *
 * When a persistent session reconnects, aedes restores its subscriptions before it streams the
 * stored queue, so a message published meanwhile would overtake the backlog (seq 31 arriving
 * between 4 and 5). While a connection's queue is being streamed, the gate holds such live QoS > 0
 * deliveries back — they are in the queue already, aedes stored them before delivering — and
 * the stream sends them after the backlog, once each, in arrival order. A live delivery whose
 * queued copy the stream has read is dropped as the duplicate it is.
 *
 * aedes asks about both copies the same way (`authorizeForward`), and what the gate answers for a
 * queued copy decides whether the message stays queued: a queued copy refused is cleared from the
 * queue (lib/handlers/connect.js `emptyQueueFilter`). So the two are told apart, and the queued
 * copy is never refused:
 * - a queued copy is numbered before it is asked about (a QoSPacket, then `outgoingUpdate`);
 * - a live copy is asked about first, with no message id (lib/client.js `deliverQoS`).
 * A live copy that came in after the stream had read its message, but before aedes got to send
 * it, used to take the queued copy's place: the live one went out, the queued one was refused and
 * cleared, and a connection dropped before its PUBACK lost the message for good.
 *
 * The gate is per connection (aedes' Client), not per client id: a client id that connects again
 * (on this node or another) while its last connection is still streaming has two streams at
 * once, and each connection's packets are asked about on that connection.
 */

export interface QueuedRef { brokerId: string, brokerCounter: number, qos: number, retain?: boolean, messageId?: number }

/** The connection whose queue is streamed: aedes' Client, as the persistence and `authorizeForward` get it. */
export interface Resuming { id: string, clean?: boolean }

interface Draining<P extends QueuedRef> {
  /** packets the stream handed to aedes and aedes has not asked about yet */
  fromStream: Set<string>
  /** resolves when aedes has asked about every packet handed out so far */
  caughtUp?: () => void
  /** packets the stream has read or handed out: their live copies are duplicates */
  sent: Set<string>
  /** live packets held back, in arrival order, and their keys */
  held: P[]
  heldKeys: Set<string>
}

const CATCH_UP_LIMIT_MS = 5000
const keyOf = (p: QueuedRef): string => `${p.brokerId}:${p.brokerCounter}`

export class ResumeGate<P extends QueuedRef = QueuedRef> {
  readonly #draining = new WeakMap<object, Draining<P>>()

  /**
   * Wraps the stream of a connection's stored queue: the stored packets, then what was held
   * back, and the gate opens in the same step as it finds nothing more held.
   */
  async * stream (client: Resuming, stored: AsyncIterable<P>): AsyncGenerator<P> {
    // Only a persistent session's live deliveries are in its queue; a clean session's are not.
    if (client.clean !== false) { yield * stored; return }
    const state: Draining<P> = { fromStream: new Set(), sent: new Set(), held: [], heldKeys: new Set() }
    this.#draining.set(client, state)
    try {
      for await (const packet of stored) yield this.#handOut(state, packet)
      // Readable.from reads ahead of the socket: the gate may open only once aedes has taken
      // every packet handed out, and nothing more was held back meanwhile.
      for (;;) {
        for (let next = state.held.shift(); next !== undefined; next = state.held.shift()) {
          state.heldKeys.delete(keyOf(next))
          if (!state.sent.has(keyOf(next))) yield this.#handOut(state, next)
        }
        await this.#caughtUp(state)
        if (state.held.length === 0) break
      }
    } finally {
      if (this.#draining.get(client) === state) this.#draining.delete(client)
    }
  }

  /** Asked for every delivery to `client`: `true` lets it go now; `false` means held back or a duplicate. */
  admit (client: object, packet: P): boolean {
    const state = this.#draining.get(client)
    if (!state || packet.brokerId == null) return true
    const key = keyOf(packet)
    if (packet.messageId !== undefined) {
      // The stream's own copy (numbered before aedes asks): it goes, and it stays queued until its PUBACK.
      if (state.fromStream.delete(key) && state.fromStream.size === 0) state.caughtUp?.()
      return true
    }
    // QoS 0 and retained copies of a live delivery are never queued: they go out as they come.
    if (packet.qos === 0 || packet.retain) return true
    if (!state.sent.has(key) && !state.heldKeys.has(key)) {
      state.held.push(packet)
      state.heldKeys.add(key)
    }
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
