/** Reads the fields of one MQTT 3.1.1 control packet: bytes, two-byte integers, strings [MQTT-1.5]. */

const utf8 = new TextDecoder('utf-8', { fatal: true })

export type StringProblem = 'invalid-utf8' | 'null-character' | 'truncated'

export class PacketReader {
  #pos: number
  constructor (readonly buf: Uint8Array, start: number) { this.#pos = start }

  remaining (): number { return this.buf.length - this.#pos }
  get position (): number { return this.#pos }
  u8 (): number | undefined { return this.#pos < this.buf.length ? this.buf[this.#pos++] : undefined }

  u16 (): number | undefined {
    if (this.#pos + 2 > this.buf.length) return undefined
    const value = ((this.buf[this.#pos] as number) << 8) | (this.buf[this.#pos + 1] as number)
    this.#pos += 2
    return value
  }

  binary (): Uint8Array | 'truncated' {
    const length = this.u16()
    if (length === undefined || this.#pos + length > this.buf.length) return 'truncated'
    const bytes = this.buf.subarray(this.#pos, this.#pos + length)
    this.#pos += length
    return bytes
  }

  /** A UTF-8 string: [MQTT-1.5.3-1] well-formed, no surrogates; [MQTT-1.5.3-2] no U+0000. */
  string (): { value: string } | StringProblem {
    const bytes = this.binary()
    if (bytes === 'truncated') return 'truncated'
    if (bytes.includes(0)) return 'null-character'
    try {
      return { value: utf8.decode(bytes) }
    } catch {
      return 'invalid-utf8'
    }
  }
}

/** Levels as aedes (and qlobber behind it) count them: one more than the number of `/`. */
export function topicLevels (topic: string): number {
  let levels = 1
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 0x2f) levels++
  return levels
}

/** Fixed header: 1 type byte + 1–4 bytes of remaining length. `null` = need more bytes. */
export function readFixedHeader (buf: Buffer, offset: number): { headerLength: number, remainingLength: number } | 'bad-length' | null {
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
