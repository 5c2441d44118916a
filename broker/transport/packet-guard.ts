/**
 * Sits between a raw connection (TCP socket, TLS socket, WebSocket stream) and aedes. It reads
 * only the MQTT framing: a packet larger than `maxPacketBytes` is refused as soon as its length
 * is known (before it is buffered), and each complete packet passes `checkPacket`. A refused
 * connection is closed — MQTT 3.1.1 has no way to say why [MQTT-4.8.0-1] — and the reason is
 * reported; every other connection is untouched. Bytes go through unchanged and in order.
 */
import { Duplex } from 'node:stream'
import { checkPacket, type PacketProblem } from './packet-check.js'

export type GuardRefusal = PacketProblem | 'too-large' | 'bad-length'

export interface GuardOptions {
  maxPacketBytes: number
  onRefuse: (reason: GuardRefusal) => void
}

export function guardConnection (raw: Duplex, options: GuardOptions): Duplex {
  const framer = new Framer(options.maxPacketBytes)
  let refused = false

  const guarded = new Duplex({
    read () { raw.resume() },
    write (chunk: Buffer, _enc, cb) { raw.write(chunk, cb) },
    final (cb) { raw.end(); cb() },
    destroy (err, cb) { raw.destroy(err ?? undefined); cb(err) }
  })

  raw.on('data', (chunk: Buffer) => {
    if (refused) return
    const result = framer.push(chunk)
    if (result.ready.length > 0 && !guarded.push(result.ready)) raw.pause()
    if (result.refusal) {
      refused = true
      options.onRefuse(result.refusal)
      raw.destroy()
    }
  })
  raw.on('end', () => guarded.push(null))
  raw.on('close', () => { if (!guarded.destroyed) guarded.destroy() })
  raw.on('error', (err) => guarded.destroy(err))
  return guarded
}

interface FramerResult { ready: Buffer, refusal?: GuardRefusal }

/** Splits the byte stream into packets; returns the bytes of whole, checked packets. */
class Framer {
  #pending: Buffer = Buffer.alloc(0)
  constructor (readonly maxPacketBytes: number) {}

  push (chunk: Buffer): FramerResult {
    const buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    let offset = 0
    while (offset < buf.length) {
      const header = readFixedHeader(buf, offset)
      if (header === 'bad-length') return { ready: buf.subarray(0, offset), refusal: 'bad-length' }
      if (header === null) break
      const total = header.headerLength + header.remainingLength
      if (total > this.maxPacketBytes) return { ready: buf.subarray(0, offset), refusal: 'too-large' }
      if (offset + total > buf.length) break
      const problem = checkPacket(buf.subarray(offset, offset + total), header.headerLength)
      if (problem) return { ready: buf.subarray(0, offset), refusal: problem }
      offset += total
    }
    this.#pending = offset === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(offset))
    return { ready: buf.subarray(0, offset) }
  }
}

/** Fixed header: 1 type byte + 1–4 bytes of remaining length. `null` = need more bytes. */
function readFixedHeader (buf: Buffer, offset: number): { headerLength: number, remainingLength: number } | 'bad-length' | null {
  let multiplier = 1
  let value = 0
  for (let i = 1; i <= 4; i++) {
    if (offset + i >= buf.length) return null
    const byte = buf[offset + i] as number
    value += (byte & 0x7f) * multiplier
    if ((byte & 0x80) === 0) return { headerLength: i + 1, remainingLength: value }
    multiplier *= 128
  }
  return 'bad-length' // a fifth length byte is malformed [MQTT-2.2.3]
}
