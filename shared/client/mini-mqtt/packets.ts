/**
 * Encoding and decoding of the MQTT 3.1.1 packets the widget's minimal client needs: CONNECT /
 * CONNACK, SUBSCRIBE / SUBACK, PUBLISH (QoS 0 and 1) / PUBACK, PINGREQ / PINGRESP, DISCONNECT.
 * Uint8Array, DataView-free byte arithmetic and TextEncoder only, so it runs in the browser and in
 * Node without `Buffer`. `PacketReader` cuts a byte stream into packets: a WebSocket frame may
 * carry several packets, or part of one.
 */

export type PacketQoS = 0 | 1

export interface ConnectPacket {
  type: 'connect'
  clientId: string
  username?: string
  password?: string
  clean: boolean
  /** seconds */
  keepalive: number
}
export interface ConnackPacket { type: 'connack', sessionPresent: boolean, returnCode: number }
export interface PublishPacket {
  type: 'publish'
  topic: string
  payload: Uint8Array
  qos: PacketQoS
  dup: boolean
  retain: boolean
  /** present for QoS 1 */
  messageId?: number
}
export interface PubackPacket { type: 'puback', messageId: number }
export interface SubscribePacket { type: 'subscribe', messageId: number, subscriptions: Array<{ topic: string, qos: PacketQoS }> }
export interface SubackPacket { type: 'suback', messageId: number, granted: number[] }
export interface EmptyPacket { type: 'pingreq' | 'pingresp' | 'disconnect' }

export type Packet = ConnectPacket | ConnackPacket | PublishPacket | PubackPacket | SubscribePacket | SubackPacket | EmptyPacket

/** The largest remaining length four bytes can carry [MQTT-2.2.3]. */
export const MAX_REMAINING_LENGTH = 268_435_455

/** A packet that breaks the protocol: the connection must be closed [MQTT-4.8.0-1]. */
export class MalformedPacketError extends Error {
  constructor (message: string) {
    super(`malformed MQTT packet: ${message}`)
    this.name = 'MalformedPacketError'
  }
}

const encoder = new TextEncoder()
// Ill-formed UTF-8 closes the connection [MQTT-1.5.3-1].
const decoder = new TextDecoder('utf-8', { fatal: true })

const TYPE = { connect: 1, connack: 2, publish: 3, puback: 4, subscribe: 8, suback: 9, pingreq: 12, pingresp: 13, disconnect: 14 } as const

function u16 (n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`not a 16-bit value: ${n}`)
  return Uint8Array.of(n >> 8, n & 0xff)
}

/** A UTF-8 string with its 2-byte length prefix [MQTT-1.5.3]. */
function utf8 (s: string): Uint8Array {
  const bytes = encoder.encode(s)
  return concat([u16(bytes.length), bytes])
}

export function encodeRemainingLength (length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > MAX_REMAINING_LENGTH) throw new RangeError(`remaining length out of range: ${length}`)
  const out: number[] = []
  do {
    let byte = length % 128
    length = Math.floor(length / 128)
    if (length > 0) byte |= 0x80
    out.push(byte)
  } while (length > 0)
  return Uint8Array.from(out)
}

export function concat (parts: Uint8Array[]): Uint8Array {
  let size = 0
  for (const p of parts) size += p.length
  const out = new Uint8Array(size)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

function frame (firstByte: number, parts: Uint8Array[] = []): Uint8Array {
  const body = concat(parts)
  return concat([Uint8Array.of(firstByte), encodeRemainingLength(body.length), body])
}

function checkQoS (qos: number): asserts qos is PacketQoS {
  if (qos !== 0 && qos !== 1) throw new RangeError(`unsupported QoS ${qos}`)
}

export function encode (packet: Packet): Uint8Array {
  switch (packet.type) {
    case 'connect': {
      // [MQTT-3.1.2-22] a password needs a username
      if (packet.password !== undefined && packet.username === undefined) throw new RangeError('a password needs a username')
      const flags = (packet.username !== undefined ? 0x80 : 0) | (packet.password !== undefined ? 0x40 : 0) | (packet.clean ? 0x02 : 0)
      const parts = [utf8('MQTT'), Uint8Array.of(4, flags), u16(packet.keepalive), utf8(packet.clientId)]
      if (packet.username !== undefined) parts.push(utf8(packet.username))
      if (packet.password !== undefined) parts.push(utf8(packet.password))
      return frame(TYPE.connect << 4, parts)
    }
    case 'connack':
      return frame(TYPE.connack << 4, [Uint8Array.of(packet.sessionPresent ? 1 : 0, packet.returnCode)])
    case 'publish': {
      checkQoS(packet.qos)
      const parts = [utf8(packet.topic)]
      if (packet.qos > 0) {
        // [MQTT-2.3.1-1] QoS 1 carries a non-zero packet id
        if (!packet.messageId) throw new RangeError('a QoS 1 PUBLISH needs a packet id')
        parts.push(u16(packet.messageId))
      }
      parts.push(packet.payload)
      // [MQTT-3.3.1-2] DUP is 0 for QoS 0
      const flags = (packet.dup && packet.qos > 0 ? 0x08 : 0) | (packet.qos << 1) | (packet.retain ? 1 : 0)
      return frame((TYPE.publish << 4) | flags, parts)
    }
    case 'puback':
      return frame(TYPE.puback << 4, [u16(packet.messageId)])
    case 'subscribe': {
      // [MQTT-3.8.3-3] at least one filter
      if (packet.subscriptions.length === 0) throw new RangeError('SUBSCRIBE needs a topic filter')
      const parts = [u16(packet.messageId)]
      for (const s of packet.subscriptions) { checkQoS(s.qos); parts.push(utf8(s.topic), Uint8Array.of(s.qos)) }
      // [MQTT-3.8.1-1] fixed header flags 0010
      return frame((TYPE.subscribe << 4) | 0x02, parts)
    }
    case 'suback':
      return frame(TYPE.suback << 4, [u16(packet.messageId), Uint8Array.from(packet.granted)])
    case 'pingreq':
    case 'pingresp':
    case 'disconnect':
      return frame(TYPE[packet.type] << 4)
  }
}

/** Reads the fields of one packet's body. */
class Fields {
  at = 0
  constructor (readonly bytes: Uint8Array) {}

  get left (): number { return this.bytes.length - this.at }

  byte (): number {
    if (this.left < 1) throw new MalformedPacketError('truncated')
    return this.bytes[this.at++]!
  }

  u16 (): number { return (this.byte() << 8) | this.byte() }

  take (n: number): Uint8Array {
    if (this.left < n) throw new MalformedPacketError('truncated')
    const out = this.bytes.subarray(this.at, this.at + n)
    this.at += n
    return out
  }

  string (): string {
    const bytes = this.take(this.u16())
    let s: string
    try { s = decoder.decode(bytes) } catch { throw new MalformedPacketError('ill-formed UTF-8') }
    // [MQTT-1.5.3-2] no U+0000
    if (s.includes('\u0000')) throw new MalformedPacketError('U+0000 in a string')
    return s
  }

  end (): void {
    if (this.left !== 0) throw new MalformedPacketError('trailing bytes')
  }
}

/** Decodes one whole packet: its first byte and its body (the bytes after the remaining length). */
export function decode (firstByte: number, body: Uint8Array): Packet {
  const type = firstByte >> 4
  const flags = firstByte & 0x0f
  const f = new Fields(body)
  // [MQTT-2.2.2-2] reserved flags must be as the table says
  const expectFlags = (want: number): void => { if (flags !== want) throw new MalformedPacketError(`bad flags ${flags} for type ${type}`) }
  let packet: Packet
  switch (type) {
    case TYPE.connect: {
      expectFlags(0)
      const name = f.string()
      const level = f.byte()
      if (name !== 'MQTT' || level !== 4) throw new MalformedPacketError(`unsupported protocol ${name} ${level}`)
      const cflags = f.byte()
      // [MQTT-3.1.2-3] reserved bit 0; this client supports no will
      if (cflags & 0x01 || cflags & 0x04) throw new MalformedPacketError('unsupported CONNECT flags')
      const keepalive = f.u16()
      const clientId = f.string()
      const connect: ConnectPacket = { type: 'connect', clientId, clean: (cflags & 0x02) !== 0, keepalive }
      if (cflags & 0x80) connect.username = f.string()
      if (cflags & 0x40) connect.password = f.string()
      packet = connect
      break
    }
    case TYPE.connack: {
      expectFlags(0)
      const ack = f.byte()
      if (ack & 0xfe) throw new MalformedPacketError('reserved CONNACK bits') // [MQTT-3.2.2.1]
      packet = { type: 'connack', sessionPresent: ack === 1, returnCode: f.byte() }
      break
    }
    case TYPE.publish: {
      const qos = (flags >> 1) & 0x03
      if (qos === 3) throw new MalformedPacketError('QoS 3') // [MQTT-3.3.1-4]
      if (qos !== 0 && qos !== 1) throw new MalformedPacketError('QoS 2 is not supported by this client')
      const topic = f.string()
      const publish: PublishPacket = { type: 'publish', topic, qos, dup: (flags & 0x08) !== 0, retain: (flags & 0x01) !== 0, payload: new Uint8Array(0) }
      if (qos > 0) publish.messageId = f.u16()
      publish.payload = f.take(f.left).slice()
      packet = publish
      break
    }
    case TYPE.puback:
      expectFlags(0)
      packet = { type: 'puback', messageId: f.u16() }
      break
    case TYPE.subscribe: {
      expectFlags(2)
      const messageId = f.u16()
      const subscriptions: SubscribePacket['subscriptions'] = []
      while (f.left > 0) {
        const topic = f.string()
        const qos = f.byte()
        if (qos !== 0 && qos !== 1) throw new MalformedPacketError(`unsupported QoS ${qos}`)
        subscriptions.push({ topic, qos })
      }
      if (subscriptions.length === 0) throw new MalformedPacketError('SUBSCRIBE without filters')
      packet = { type: 'subscribe', messageId, subscriptions }
      break
    }
    case TYPE.suback: {
      expectFlags(0)
      const messageId = f.u16()
      packet = { type: 'suback', messageId, granted: Array.from(f.take(f.left)) }
      break
    }
    case TYPE.pingreq:
    case TYPE.pingresp:
    case TYPE.disconnect:
      expectFlags(0)
      packet = { type: type === TYPE.pingreq ? 'pingreq' : type === TYPE.pingresp ? 'pingresp' : 'disconnect' }
      break
    default:
      throw new MalformedPacketError(`unsupported packet type ${type}`)
  }
  f.end()
  return packet
}

/**
 * Cuts a byte stream into packets. `push` each WebSocket frame; it returns the packets completed
 * so far and keeps the rest for the next frame. Throws `MalformedPacketError` on a broken stream.
 */
export class PacketReader {
  #buffer: Uint8Array = new Uint8Array(0)
  readonly #maxPacketBytes: number

  constructor (maxPacketBytes = MAX_REMAINING_LENGTH) {
    this.#maxPacketBytes = maxPacketBytes
  }

  /** bytes held, waiting for the rest of a packet */
  get buffered (): number { return this.#buffer.length }

  push (chunk: Uint8Array): Packet[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : concat([this.#buffer, chunk])
    const packets: Packet[] = []
    for (;;) {
      const buf = this.#buffer
      if (buf.length < 2) break
      let length = 0
      let multiplier = 1
      let at = 1
      let complete = false
      while (at < buf.length) {
        const byte = buf[at++]!
        length += (byte & 0x7f) * multiplier
        if ((byte & 0x80) === 0) { complete = true; break }
        multiplier *= 128
        if (at > 4) throw new MalformedPacketError('remaining length longer than 4 bytes') // [MQTT-2.2.3]
      }
      if (!complete) break
      if (length > this.#maxPacketBytes) throw new MalformedPacketError(`packet of ${length} bytes is too large`)
      if (buf.length < at + length) break
      packets.push(decode(buf[0]!, buf.subarray(at, at + length)))
      this.#buffer = buf.subarray(at + length)
    }
    // Do not pin a large frame for a few leftover bytes.
    if (this.#buffer.length > 0 && this.#buffer.byteOffset > 0) this.#buffer = this.#buffer.slice()
    return packets
  }
}
