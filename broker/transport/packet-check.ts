/**
 * Checks on one complete MQTT 3.1.1 control packet, for the rules mqtt-packet leaves to the
 * server. Returns why the packet is malformed, or `null`. Each rule is tagged with the spec.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true })

export type PacketProblem =
  | 'invalid-utf8' | 'null-character' | 'packet-id-zero' | 'will-qos' | 'truncated'

/** `packet` holds the whole packet; `bodyStart` is where the variable header begins. */
export function checkPacket (packet: Uint8Array, bodyStart: number): PacketProblem | null {
  const type = (packet[0] as number) >> 4
  const qos = ((packet[0] as number) >> 1) & 3
  const reader = new Reader(packet, bodyStart)
  switch (type) {
    case 1: return checkConnect(reader)
    case 3: {
      const topic = reader.string()
      if (typeof topic !== 'object') return topic
      if (qos > 0 && reader.u16() === 0) return 'packet-id-zero' // [MQTT-2.3.1-1]
      return null
    }
    case 4: case 5: case 6: case 7: case 11:
      return reader.u16() === 0 ? 'packet-id-zero' : null // [MQTT-2.3.1-1]
    case 8: case 10: {
      if (reader.u16() === 0) return 'packet-id-zero' // [MQTT-2.3.1-1]
      while (reader.remaining() > 0) {
        const filter = reader.string()
        if (typeof filter !== 'object') return filter
        if (type === 8) reader.skip(1) // requested QoS; mqtt-packet checks its value
      }
      return null
    }
    default:
      return null
  }
}

function checkConnect (reader: Reader): PacketProblem | null {
  const name = reader.string()
  if (typeof name !== 'object') return name
  const level = reader.u8()
  if (level !== 3 && level !== 4) return null // the CONNACK answers an unsupported level [MQTT-3.1.2-2]
  const flags = reader.u8()
  if (flags === undefined) return 'truncated'
  reader.skip(2) // keep alive
  const willFlag = (flags & 0x04) !== 0
  if (willFlag && ((flags >> 3) & 3) === 3) return 'will-qos' // [MQTT-3.1.2-14]
  const clientId = reader.string()
  if (typeof clientId !== 'object') return clientId
  if (willFlag) {
    const willTopic = reader.string()
    if (typeof willTopic !== 'object') return willTopic
    reader.binary()
  }
  if ((flags & 0x80) !== 0) {
    const username = reader.string()
    if (typeof username !== 'object') return username
  }
  return null
}

class Reader {
  #pos: number
  constructor (readonly buf: Uint8Array, start: number) { this.#pos = start }

  remaining (): number { return this.buf.length - this.#pos }
  skip (n: number): void { this.#pos += n }
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
  string (): { value: string } | PacketProblem {
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
