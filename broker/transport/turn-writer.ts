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
 * CONNACK goes first [MQTT-3.2.0-1]. aedes 1.2 restores a persistent session's subscriptions
 * before it writes the CONNACK (lib/handlers/connect.js: `restoreSubs`, then `storeWill`,
 * `registerClient`, `cleanIncoming`, `doConnack`), so a message published meanwhile is delivered
 * — and written — before it. What aedes writes before its CONNACK is held here, and goes right
 * after the CONNACK, in the order it was written; a refusing CONNACK goes alone [MQTT-3.2.2-5],
 * and a connection that closes without one sends none of it. The callbacks of held bytes are
 * answered at once: the CONNACK reaches this writer only once they are (the stream hands over
 * its writes one batch at a time), and the wait is the few store round trips of a CONNECT.
 *
 * It also sets the Session Present flag of the CONNACK when the broker's session records know a
 * session aedes does not (one without subscriptions) [MQTT-3.2.2-2].
 */
import type { Duplex } from 'node:stream'
import { readFixedHeader } from './packet-reader.js'

type Callback = (err?: Error | null) => void

const CONNACK = 0x20
const NOTHING = Buffer.alloc(0)

export class TurnWriter {
  readonly #raw: Duplex
  #chunks: Buffer[] = []
  #scheduled = false
  #blocked = false
  #held: Callback[] = []
  /** 'awaiting': no CONNACK written yet; 'refused': a refusing one was, nothing more goes */
  #connack: 'awaiting' | 'accepted' | 'refused' = 'awaiting'
  /** what aedes wrote before its CONNACK */
  #early: Buffer = NOTHING
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
   * go: it is written, then the connection is destroyed; after an error, at once — unless what
   * is left is the refusing CONNACK itself: aedes ends a CONNECT it refuses before
   * authentication (an MQTT 3.1 client id over 23 characters: return code 2, "identifier
   * rejected", as MQTT 3.1 §3.1 asks) with an error, and the client must still learn why.
   */
  close (err: Error | null): void {
    const wasAwaiting = this.#connack === 'awaiting'
    const last = this.#ready()
    const refusal = wasAwaiting && this.#connack === 'refused'
    if ((err && !refusal) || last === undefined || this.#raw.destroyed || !this.#raw.writable) {
      this.#raw.destroy(err ?? undefined)
      return
    }
    this.#raw.end(last, () => { this.#raw.destroy() })
  }

  #flush (): void {
    this.#scheduled = false
    const data = this.#ready()
    if (data === undefined || this.#raw.destroyed) return
    if (!this.#raw.write(data)) this.#blocked = true
  }

  /** What may be written now of what aedes wrote, or `undefined`. */
  #ready (): Buffer | undefined {
    const data = this.#take()
    if (this.#connack === 'accepted' || data === undefined) return data
    if (this.#connack === 'refused') return undefined
    return this.#connackFirst(data)
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

  /**
   * Before the CONNACK: holds `data` until the CONNACK is among it, then gives the CONNACK, what
   * was written before it and what was written after it, in that order. aedes writes whole
   * packets (mqtt-packet corks a packet's chunks until the next tick, before this turn's flush).
   */
  #connackFirst (data: Buffer): Buffer | undefined {
    const bytes = this.#early.length === 0 ? data : Buffer.concat([this.#early, data])
    const at = findConnack(bytes)
    if (at === undefined) {
      this.#early = bytes
      return undefined
    }
    this.#early = NOTHING
    const connack = this.#fixConnack(bytes.subarray(at.start, at.end))
    if (connack[3] !== 0x00) {
      this.#connack = 'refused' // the connection closes; nothing held goes [MQTT-3.2.2-5]
      return connack
    }
    this.#connack = 'accepted'
    if (at.start === 0) return at.end === bytes.length ? connack : Buffer.concat([connack, bytes.subarray(at.end)])
    return Buffer.concat([connack, bytes.subarray(0, at.start), bytes.subarray(at.end)])
  }

  /** aedes' CONNACK: 0x20, length 2, flags, return code (0 = accepted). */
  #fixConnack (connack: Buffer): Buffer {
    if (!this.#sessionPresent || connack.length !== 4 || connack[1] !== 0x02 || connack[3] !== 0x00 || connack[2] === 0x01) return connack
    const fixed = Buffer.from(connack)
    fixed[2] = 0x01
    return fixed
  }
}

/** Where the CONNACK is among whole packets, if it is. */
function findConnack (bytes: Buffer): { start: number, end: number } | undefined {
  let offset = 0
  while (offset < bytes.length) {
    const header = readFixedHeader(bytes, offset)
    if (header === null || header === 'bad-length') return undefined
    const end = offset + header.headerLength + header.remainingLength
    if (end > bytes.length) return undefined
    if (bytes[offset] === CONNACK) return { start: offset, end }
    offset = end
  }
  return undefined
}
