/**
 * The write side of a guarded connection. Everything aedes writes to one connection within one
 * event-loop turn leaves as ONE write: one system call, one TCP segment for small packets, one
 * WebSocket frame (MQTT over WebSocket allows several packets per frame) — mqtt-packet writes a
 * PUBLISH as 5–6 small chunks, and aedes delivers each message in its own setImmediate, so
 * writing as they come cost a system call (and a frame) per chunk or per packet. [IM-PERF-4]
 *
 * A reader therefore never receives part of a packet on its own, whatever it does per `recv()`.
 * The callbacks are answered at once while the connection takes data, and held while it pushes
 * back (until 'drain'), so aedes sees the same backpressure as before.
 *
 * It also sets the Session Present flag of the CONNACK when the broker's session records know a
 * session aedes does not (one without subscriptions) [MQTT-3.2.2-2].
 */
import type { Duplex } from 'node:stream'

type Callback = (err?: Error | null) => void

export class TurnWriter {
  readonly #raw: Duplex
  #chunks: Buffer[] = []
  #scheduled = false
  #blocked = false
  #held: Callback[] = []
  #first = true
  #sessionPresent = false

  constructor (raw: Duplex) {
    this.#raw = raw
    raw.on('drain', () => { this.#release() })
  }

  markSessionPresent (): void {
    this.#sessionPresent = true
  }

  write (chunks: Buffer[], cb: Callback): void {
    for (const chunk of chunks) this.#chunks.push(chunk)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => { this.#flush() })
    }
    if (this.#blocked) this.#held.push(cb)
    else cb()
  }

  /** Writes what is waiting now, then ends the connection. */
  end (): void {
    this.#flush()
    this.#raw.end()
  }

  /**
   * aedes is done with the connection. What it wrote last (a refusing CONNACK, say) is still to
   * go: it is written, then the connection is destroyed; after an error, at once.
   */
  close (err: Error | null): void {
    const last = this.#take()
    if (err || last === undefined || this.#raw.destroyed || !this.#raw.writable) {
      this.#raw.destroy(err ?? undefined)
      return
    }
    this.#raw.end(this.#fixConnack(last), () => { this.#raw.destroy() })
  }

  #flush (): void {
    this.#scheduled = false
    const data = this.#take()
    if (data === undefined || this.#raw.destroyed) return
    if (!this.#raw.write(this.#fixConnack(data))) this.#blocked = true
  }

  #take (): Buffer | undefined {
    const chunks = this.#chunks
    this.#chunks = []
    if (chunks.length === 0) return undefined
    return chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks)
  }

  #release (): void {
    this.#blocked = false
    const held = this.#held
    this.#held = []
    for (const cb of held) cb()
  }

  /** The first bytes written are aedes' CONNACK: 0x20, length 2, flags, return code (0 = accepted). */
  #fixConnack (bytes: Buffer): Buffer {
    if (!this.#first) return bytes
    this.#first = false
    if (!this.#sessionPresent || bytes.length < 4 || bytes[0] !== 0x20 || bytes[1] !== 0x02 || bytes[3] !== 0x00 || bytes[2] === 0x01) return bytes
    const fixed = Buffer.from(bytes)
    fixed[2] = 0x01
    return fixed
  }
}
