/**
 * Checks on a CONNECT packet that mqtt-packet and aedes leave to the server [MQTT-3.1.4-1]: the
 * protocol name and level, the connect flags, and a payload holding exactly the fields the flags
 * announce, in order (client id, will topic and message, user name, password).
 */
import { topicLevels, type PacketReader, type StringProblem } from './packet-reader.js'

export type ConnectProblem = StringProblem
  | 'bad-protocol-name' | 'unsupported-protocol-level' | 'connect-reserved-flag'
  | 'will-flags' | 'will-qos' | 'password-without-username'
  | 'will-topic-empty' | 'will-topic-wildcard' | 'too-many-levels' | 'trailing-bytes'

const RESERVED = 0x01
const WILL = 0x04
const WILL_RETAIN = 0x20
const PASSWORD = 0x40
const USERNAME = 0x80

/** The level each protocol name goes with: MQTT 3.1.1 and MQTT 3.1, as aedes serves them. */
const LEVELS: Readonly<Record<string, number>> = { MQTT: 4, MQIsdp: 3 }

export function checkConnect (reader: PacketReader, maxTopicLevels: number): ConnectProblem | null {
  const name = reader.string()
  if (typeof name !== 'object') return name
  const expected = LEVELS[name.value]
  if (expected === undefined) return 'bad-protocol-name' // [MQTT-3.1.2-1]
  const level = reader.u8()
  if (level === undefined) return 'truncated'
  // [MQTT-3.1.2-2] answered with CONNACK 0x01 by the guard. Bit 7 is the bridge flag that
  // Mosquitto's bridges set (0x84); aedes and Mosquitto accept it, and so do we.
  if ((level & 0x7f) !== expected) return 'unsupported-protocol-level'
  const flags = reader.u8()
  if (flags === undefined || reader.u16() === undefined) return 'truncated' // flags, keep alive
  const problem = checkFlags(flags)
  if (problem) return problem
  return checkPayload(reader, flags, maxTopicLevels)
}

function checkFlags (flags: number): ConnectProblem | null {
  if ((flags & RESERVED) !== 0) return 'connect-reserved-flag' // [MQTT-3.1.2-3]
  const willQos = (flags >> 3) & 3
  if ((flags & WILL) === 0) {
    // [MQTT-3.1.2-11] [MQTT-3.1.2-13] Will QoS 0 and [MQTT-3.1.2-15] Will Retain 0 without a will
    if (willQos !== 0 || (flags & WILL_RETAIN) !== 0) return 'will-flags'
  } else if (willQos === 3) {
    return 'will-qos' // [MQTT-3.1.2-14]
  }
  if ((flags & PASSWORD) !== 0 && (flags & USERNAME) === 0) return 'password-without-username' // [MQTT-3.1.2-22]
  return null
}

/** [MQTT-3.1.3-1] the fields the flags announce, in order, and nothing else [MQTT-3.1.2-18] [MQTT-3.1.2-20]. */
function checkPayload (reader: PacketReader, flags: number, maxTopicLevels: number): ConnectProblem | null {
  const clientId = reader.string()
  if (typeof clientId !== 'object') return clientId
  if ((flags & WILL) !== 0) {
    const problem = checkWillTopic(reader, maxTopicLevels)
    if (problem) return problem
    if (reader.binary() === 'truncated') return 'truncated' // [MQTT-3.1.2-9] the will message
  }
  if ((flags & USERNAME) !== 0) {
    const username = reader.string() // [MQTT-3.1.2-19] [MQTT-3.1.3-11]
    if (typeof username !== 'object') return username
  }
  if ((flags & PASSWORD) !== 0 && reader.binary() === 'truncated') return 'truncated' // [MQTT-3.1.2-21]
  return reader.remaining() > 0 ? 'trailing-bytes' : null
}

/** The Will Topic is a topic name: not empty [MQTT-4.7.3-1], no wildcard [MQTT-3.3.2-2], within the level limit. */
function checkWillTopic (reader: PacketReader, maxTopicLevels: number): ConnectProblem | null {
  const topic = reader.string() // [MQTT-3.1.3-10]
  if (typeof topic !== 'object') return topic
  if (topic.value.length === 0) return 'will-topic-empty'
  if (/[+#]/.test(topic.value)) return 'will-topic-wildcard'
  if (topicLevels(topic.value) > maxTopicLevels) return 'too-many-levels'
  return null
}
