/**
 * Topic filters deeper than MAX_TOPIC_LEVELS, in front of aedes.
 *
 * aedes checks the levels of every SUBSCRIBE and UNSUBSCRIBE filter *before* our
 * `authorizeSubscribe` hook runs, and closes the connection for one too deep. We want instead a
 * SUBACK with 0x80 for that filter while the other filters of the same packet are granted
 * [MQTT-3.8.4-4] [MQTT-3.9.3-1], and a normal UNSUBACK for an UNSUBSCRIBE. Ways considered:
 * - refuse in `authorizeSubscribe`: too late, aedes has already closed the connection;
 * - answer SUBACK in the guard: one SUBACK carries the return codes of every filter of the
 *   packet, in order, and the other filters are aedes' to grant;
 * - split the packet and merge aedes' SUBACKs on the way out: needs a parser on the write side.
 * So the guard rewrites each too-deep filter into a placeholder filter and lets aedes answer. A
 * placeholder is one level (valid under any limit ≥ 1), unique within the packet (aedes keeps one
 * of identical filters of a SUBSCRIBE, which would drop a return code), and holds U+0000: no
 * client can send that (the guard closes the connection [MQTT-1.5.3-2]), and the ACL's
 * `isValidFilter` refuses it, so `authorizeSubscribe` answers 0x80. An UNSUBSCRIBE of a
 * placeholder finds no subscription, and aedes answers UNSUBACK as for any unknown filter.
 */
import { encodeRemainingLength } from '../../shared/client/mini-mqtt/packets.js'
import { PacketReader, topicLevels } from './packet-reader.js'

const SUBSCRIBE = 8
const UNSUBSCRIBE = 10

/** The placeholder for the filter at `index` of its packet. */
export function placeholderFilter (index: number): string {
  return `\u0000too-many-levels-${index}`
}

export interface Rewritten {
  packet: Buffer
  /** how many filters were replaced */
  replaced: number
  /** how many of them will get SUBACK 0x80: all of a SUBSCRIBE's, none of an UNSUBSCRIBE's */
  refused: number
}

/**
 * For a SUBSCRIBE or UNSUBSCRIBE (already checked by `checkPacket`) with a filter deeper than
 * `maxTopicLevels`: the same packet with each such filter replaced. Otherwise `null`.
 */
export function replaceDeepFilters (packet: Buffer, bodyStart: number, maxTopicLevels: number): Rewritten | null {
  const type = (packet[0] as number) >> 4
  if (type !== SUBSCRIBE && type !== UNSUBSCRIBE) return null
  const reader = new PacketReader(packet, bodyStart + 2) // after the packet identifier
  const body: Buffer[] = []
  let copiedTo = bodyStart
  let replaced = 0
  for (let index = 0; reader.remaining() > 0; index++) {
    const start = reader.position
    const filter = reader.string()
    if (typeof filter !== 'object') return null // checkPacket refuses such a packet first
    if (topicLevels(filter.value) > maxTopicLevels) {
      body.push(packet.subarray(copiedTo, start), encodeString(placeholderFilter(index)))
      copiedTo = reader.position
      replaced++
    }
    if (type === SUBSCRIBE) reader.u8() // requested QoS, kept
  }
  if (replaced === 0) return null
  body.push(packet.subarray(copiedTo))
  const length = body.reduce((sum, part) => sum + part.length, 0)
  return { packet: Buffer.concat([packet.subarray(0, 1), encodeRemainingLength(length), ...body]), replaced, refused: type === SUBSCRIBE ? replaced : 0 }
}

function encodeString (value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8')
  return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes])
}
