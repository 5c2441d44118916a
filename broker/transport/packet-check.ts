/**
 * Checks on one complete MQTT 3.1.1 control packet, for the rules mqtt-packet and aedes leave to
 * the server. Returns why the packet is malformed, or `null`. Each rule is tagged with the spec.
 */
import { checkConnect, type ConnectProblem } from './connect-check.js'
import { PacketReader, topicLevels } from './packet-reader.js'

export type PacketProblem = ConnectProblem
  | 'packet-id-zero' | 'reserved-flags' | 'publish-qos' | 'wrong-length' | 'no-topic-filter'

export interface PacketLimits {
  /** aedes' `maxTopicLevels`: a PUBLISH or will topic deeper than this closes the connection */
  maxTopicLevels: number
}

/** aedes' own default and ceiling (qlobber's `max_words`). */
export const DEFAULT_LIMITS: PacketLimits = { maxTopicLevels: 100 }

const PUBLISH = 3
const PUBREL = 6
const SUBSCRIBE = 8
const UNSUBSCRIBE = 10

/** `packet` holds the whole packet; `bodyStart` is where the variable header begins. */
export function checkPacket (packet: Uint8Array, bodyStart: number, limits: PacketLimits = DEFAULT_LIMITS): PacketProblem | null {
  const type = (packet[0] as number) >> 4
  const flags = (packet[0] as number) & 0x0f
  const reader = new PacketReader(packet, bodyStart)
  if (type !== PUBLISH && flags !== requiredFlags(type)) return 'reserved-flags'
  switch (type) {
    case 1: return checkConnect(reader, limits.maxTopicLevels)
    case PUBLISH: return checkPublish(reader, (flags >> 1) & 3, limits)
    case 4: case 5: case PUBREL: case 7: case 11:
      // PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: remaining length 2 [MQTT-3.4.1] … [MQTT-3.11.1];
      // anything else is malformed [MQTT-4.8.0-1]
      if (reader.remaining() !== 2) return 'wrong-length'
      return reader.u16() === 0 ? 'packet-id-zero' : null // [MQTT-2.3.1-1]
    case SUBSCRIBE: case UNSUBSCRIBE: return checkFilters(reader, type)
    case 12: case 13: case 14:
      // PINGREQ, PINGRESP, DISCONNECT have no variable header and no payload [MQTT-3.12.1] [MQTT-3.14.1]
      return reader.remaining() === 0 ? null : 'wrong-length'
    default:
      return null
  }
}

/**
 * [MQTT-2.2.2-1] [MQTT-2.2.2-2] reserved fixed-header flags: 0010 for PUBREL [MQTT-3.6.1-1],
 * SUBSCRIBE [MQTT-3.8.1-1] and UNSUBSCRIBE [MQTT-3.10.1-1], 0000 for every other type but PUBLISH.
 */
function requiredFlags (type: number): number {
  return type === PUBREL || type === SUBSCRIBE || type === UNSUBSCRIBE ? 0b0010 : 0
}

function checkPublish (reader: PacketReader, qos: number, limits: PacketLimits): PacketProblem | null {
  if (qos === 3) return 'publish-qos' // [MQTT-3.3.1-4]
  const topic = reader.string()
  if (typeof topic !== 'object') return topic
  // aedes would close too; checked here so that the refusal is counted
  if (topicLevels(topic.value) > limits.maxTopicLevels) return 'too-many-levels'
  if (qos > 0 && reader.u16() === 0) return 'packet-id-zero' // [MQTT-2.3.1-1]
  return null
}

/** SUBSCRIBE and UNSUBSCRIBE: a packet identifier, then one topic filter at least. */
function checkFilters (reader: PacketReader, type: number): PacketProblem | null {
  const packetId = reader.u16()
  if (packetId === undefined) return 'truncated'
  if (packetId === 0) return 'packet-id-zero' // [MQTT-2.3.1-1]
  if (reader.remaining() === 0) return 'no-topic-filter' // [MQTT-3.8.3-3] [MQTT-3.10.3-2]
  while (reader.remaining() > 0) {
    const filter = reader.string()
    if (typeof filter !== 'object') return filter
    // the requested QoS; mqtt-packet checks its value [MQTT-3.8.3-4]
    if (type === SUBSCRIBE && reader.u8() === undefined) return 'truncated'
  }
  return null
}
