/**
 * Sits between a raw connection (TCP socket, TLS socket, WebSocket stream) and aedes. It reads
 * only the MQTT framing: a packet larger than `maxPacketBytes` is refused as soon as its length
 * is known (before it is buffered), and each complete packet passes `checkPacket`. A refused
 * connection is closed — MQTT 3.1.1 has no way to say why [MQTT-4.8.0-1] — except that a CONNECT
 * of an unsupported protocol level first gets CONNACK 0x01 [MQTT-3.1.2-2]; the reason is
 * reported, and every other connection is untouched. Bytes go through unchanged and in order,
 * but for SUBSCRIBE / UNSUBSCRIBE filters deeper than `maxTopicLevels` (see deep-filters.ts).
 * On the way out, everything written to the connection in one event-loop turn leaves as one
 * write (turn-writer.ts).
 */
import { Duplex } from 'node:stream'
import { replaceDeepFilters } from './deep-filters.js'
import { TurnWriter } from './turn-writer.js'
import { checkPacket, type PacketLimits, type PacketProblem } from './packet-check.js'
import { readFixedHeader } from './packet-reader.js'

export type GuardRefusal = PacketProblem | 'too-large' | 'bad-length' | 'filter-too-many-levels'

/** Does the refusal close the connection? A too-deep filter only gets SUBACK 0x80. */
export function closesConnection (reason: GuardRefusal): boolean {
  return reason !== 'filter-too-many-levels'
}

export interface GuardOptions extends PacketLimits {
  maxPacketBytes: number
  onRefuse: (reason: GuardRefusal) => void
  /** the first packet (a CONNECT, or the connection is refused) arrived whole and passed */
  onFirstPacket?: () => void
}

/** CONNACK, return code 0x01: unacceptable protocol version [MQTT-3.2.2-3]. */
const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01])

const writers = new WeakMap<Duplex, TurnWriter>()

/**
 * Says that the session of this connection's CONNECT exists, so its CONNACK must say Session
 * Present = 1 [MQTT-3.2.2-2] (see TurnWriter).
 */
export function markSessionPresent (guarded: unknown): void {
  if (typeof guarded === 'object' && guarded !== null) writers.get(guarded as Duplex)?.markSessionPresent()
}

export function guardConnection (raw: Duplex, options: GuardOptions): Duplex {
  const framer = new Framer(options)
  let refused = false

  const out = new TurnWriter(raw)
  const guarded = new Duplex({
    read () { raw.resume() },
    write (chunk: Buffer, _enc, cb) { out.write([chunk], cb) },
    writev (chunks, cb) { out.write(chunks.map(({ chunk }) => chunk as Buffer), cb) },
    final (cb) { out.end(); cb() },
    destroy (err, cb) { out.close(err); cb(err) }
  })
  writers.set(guarded, out)

  raw.on('data', (chunk: Buffer) => {
    if (refused) return
    const result = framer.push(chunk)
    if (result.ready.length > 0 && !guarded.push(result.ready)) raw.pause()
    if (result.refusal) {
      refused = true
      options.onRefuse(result.refusal)
      if (result.answer) answerAndClose(raw, result.answer)
      else raw.destroy()
    }
  })
  raw.on('end', () => guarded.push(null))
  raw.on('close', () => { if (!guarded.destroyed) guarded.destroy() })
  raw.on('error', (err) => guarded.destroy(err))
  return guarded
}

/** Writes `answer`, then closes once it is handed to the connection. */
function answerAndClose (raw: Duplex, answer: Buffer): void {
  raw.end(answer, () => raw.destroy())
}

interface FramerResult { ready: Buffer, refusal?: GuardRefusal, answer?: Buffer }

/** Splits the byte stream into packets; returns the bytes of whole, checked packets. */
class Framer {
  #pending: Buffer = Buffer.alloc(0)
  #first = true
  constructor (readonly options: GuardOptions) {}

  push (chunk: Buffer): FramerResult {
    const buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    const out = new Spans(buf)
    let offset = 0
    while (offset < buf.length) {
      const header = readFixedHeader(buf, offset)
      if (header === 'bad-length') return { ready: out.upTo(offset), refusal: 'bad-length' }
      if (header === null) break
      const total = header.headerLength + header.remainingLength
      if (total > this.options.maxPacketBytes) return { ready: out.upTo(offset), refusal: 'too-large' }
      if (offset + total > buf.length) break
      const packet = buf.subarray(offset, offset + total)
      const problem = checkPacket(packet, header.headerLength, this.options)
      if (problem) return { ready: out.upTo(offset), refusal: problem, answer: this.#answerTo(problem) }
      const rewritten = replaceDeepFilters(packet, header.headerLength, this.options.maxTopicLevels)
      if (rewritten) {
        out.replace(offset, offset + total, rewritten.packet)
        for (let i = 0; i < rewritten.refused; i++) this.options.onRefuse('filter-too-many-levels')
      }
      if (this.#first) this.options.onFirstPacket?.()
      this.#first = false
      offset += total
    }
    this.#pending = offset === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(offset))
    return { ready: out.upTo(offset) }
  }

  /** [MQTT-3.1.2-2] a first packet, CONNECT, of a level we do not serve: CONNACK 0x01. (A second CONNECT only closes [MQTT-3.1.0-2].) */
  #answerTo (problem: PacketProblem): Buffer | undefined {
    return problem === 'unsupported-protocol-level' && this.#first ? CONNACK_UNACCEPTABLE_PROTOCOL : undefined
  }
}

/** The bytes of `buf`, with some packets replaced: slices of `buf` while nothing is replaced. */
class Spans {
  readonly #parts: Buffer[] = []
  #copiedTo = 0
  constructor (readonly buf: Buffer) {}

  replace (start: number, end: number, bytes: Buffer): void {
    this.#parts.push(this.buf.subarray(this.#copiedTo, start), bytes)
    this.#copiedTo = end
  }

  upTo (end: number): Buffer {
    if (this.#parts.length === 0) return this.buf.subarray(0, end)
    return Buffer.concat([...this.#parts, this.buf.subarray(this.#copiedTo, end)])
  }
}
