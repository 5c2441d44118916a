import assert from 'node:assert/strict'
import { Duplex } from 'node:stream'
import { describe, it } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { isValidFilter } from '../../broker/acl/topic-filter.js'
import { placeholderFilter, replaceDeepFilters } from '../../broker/transport/deep-filters.js'
import { checkPacket } from '../../broker/transport/packet-check.js'
import { guardConnection } from '../../broker/transport/packet-guard.js'
import { CONNECT, packet, rawPublish, remainingLength } from '../helpers/raw.js'

const check = (bytes: Buffer): string | null => checkPacket(bytes, bytes[1]! & 0x80 ? 3 : 2)

/** What mqtt-packet (aedes' parser) reads from `bytes`, after a CONNECT set it to MQTT 3.1.1. */
function parse (bytes: Buffer): mqttPacket.Packet {
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const packets: mqttPacket.Packet[] = []
  parser.on('packet', (p) => packets.push(p))
  parser.on('error', (err) => { throw err })
  parser.parse(bytes)
  assert.equal(packets.length, 1)
  return packets[0] as mqttPacket.Packet
}

describe('packet checks', () => {
  it('accepts well-formed packets', () => {
    assert.equal(check(CONNECT('ok', { username: 'u', password: Buffer.from('p'), will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false } })), null)
    assert.equal(check(packet({ cmd: 'publish', topic: 'a/é/b', payload: 'x', qos: 1, messageId: 5 })), null)
    assert.equal(check(packet({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 1 }] })), null)
  })

  it('refuses invalid UTF-8 and U+0000 in topics [MQTT-1.5.3-1] [MQTT-1.5.3-2]', () => {
    assert.equal(check(rawPublish(Buffer.from([0x61, 0xc3, 0x28]), Buffer.alloc(0))), 'invalid-utf8')
    assert.equal(check(rawPublish(Buffer.from([0x61, 0xed, 0xa0, 0x80]), Buffer.alloc(0))), 'invalid-utf8') // an encoded surrogate
    assert.equal(check(rawPublish(Buffer.from([0x61, 0x00, 0x62]), Buffer.alloc(0))), 'null-character')
  })

  it('refuses packet identifier 0 [MQTT-2.3.1-1]', () => {
    assert.equal(check(rawPublish(Buffer.from('a'), Buffer.from('x'), 1, 0)), 'packet-id-zero')
    assert.equal(check(Buffer.from([0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00])), 'packet-id-zero')
    assert.equal(check(Buffer.from([0x40, 0x02, 0x00, 0x00])), 'packet-id-zero')
  })

  it('refuses Will QoS 3 [MQTT-3.1.2-14]', () => {
    const connect = CONNECT('w', { will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false } })
    const flagsAt = 2 + 2 + 4 + 1 // fixed header, protocol name length + "MQTT", level
    connect[flagsAt] = connect[flagsAt]! | 0x18
    assert.equal(check(connect), 'will-qos')
  })
})

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff])
const str = (s: string): Buffer => Buffer.concat([u16(Buffer.byteLength(s)), Buffer.from(s)])
const frame = (first: number, ...parts: Buffer[]): Buffer => { const body = Buffer.concat(parts); return Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]) }
/** CONNECT written field by field: `fields` follow the client id whatever the flags say. */
const connect = (flags: number, fields: Buffer[] = [], name = 'MQTT', level = 4): Buffer =>
  frame(0x10, str(name), Buffer.from([level, flags]), u16(30), str('c'), ...fields)
const levels = (n: number): string => Array.from({ length: n }, () => 'l').join('/')

describe('CONNECT checks', () => {
  it('tells an unsupported protocol level [MQTT-3.1.2-2] from an invalid protocol name [MQTT-3.1.2-1]', () => {
    assert.equal(check(connect(0x02, [], 'MQTT', 5)), 'unsupported-protocol-level')
    assert.equal(check(connect(0x02, [], 'MQTT', 3)), 'unsupported-protocol-level')
    assert.equal(check(connect(0x02, [], 'MQIsdp', 4)), 'unsupported-protocol-level')
    assert.equal(check(connect(0x02, [], 'MQIsdp', 3)), null)
    assert.equal(check(connect(0x02, [], 'MQTT', 0x84)), null, 'the bridge bit, as aedes and Mosquitto accept it')
    assert.equal(check(connect(0x02, [], 'MQTX')), 'bad-protocol-name')
  })

  it('refuses flags that disagree with each other [MQTT-3.1.2-3] [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15] [MQTT-3.1.2-22]', () => {
    assert.equal(check(connect(0x03)), 'connect-reserved-flag')
    assert.equal(check(connect(0x02 | 0x08)), 'will-flags')
    assert.equal(check(connect(0x02 | 0x10)), 'will-flags')
    assert.equal(check(connect(0x02 | 0x20)), 'will-flags')
    assert.equal(check(connect(0x02 | 0x40, [str('p')])), 'password-without-username')
  })

  it('refuses a payload without the fields the flags announce, or with more [MQTT-3.1.2-18..21] [MQTT-3.1.4-1]', () => {
    assert.equal(check(connect(0x82)), 'truncated')
    assert.equal(check(connect(0xc2, [str('u')])), 'truncated')
    assert.equal(check(connect(0x06, [str('w')])), 'truncated', 'a will topic without a will message')
    assert.equal(check(connect(0x02, [str('u')])), 'trailing-bytes')
    assert.equal(check(connect(0x82, [str('u'), str('p')])), 'trailing-bytes')
    assert.equal(check(connect(0xc2 | 0x04 | 0x08 | 0x20, [str('w'), str('x'), str('u'), str('p')])), null)
  })

  it('refuses a Will Topic that is empty [MQTT-4.7.3-1], holds a wildcard [MQTT-3.3.2-2] or is too deep', () => {
    assert.equal(check(connect(0x06, [str(''), str('x')])), 'will-topic-empty')
    assert.equal(check(connect(0x06, [str('a/+'), str('x')])), 'will-topic-wildcard')
    assert.equal(check(connect(0x06, [str('a/#'), str('x')])), 'will-topic-wildcard')
    const deepWill = connect(0x06, [str(levels(5)), str('x')])
    assert.equal(checkPacket(deepWill, 2, { maxTopicLevels: 4 }), 'too-many-levels')
    assert.equal(checkPacket(deepWill, 2, { maxTopicLevels: 5 }), null)
  })
})

describe('fixed header and length checks', () => {
  it('refuses acknowledgements whose remaining length is not 2 [MQTT-4.8.0-1]', () => {
    for (const first of [0x40, 0x50, 0x62, 0x70]) {
      assert.equal(check(Buffer.from([first, 0x02, 0x00, 0x01])), null)
      assert.equal(check(Buffer.from([first, 0x00])), 'wrong-length')
      assert.equal(check(Buffer.from([first, 0x01, 0x01])), 'wrong-length')
      assert.equal(check(Buffer.from([first, 0x03, 0x00, 0x01, 0x00])), 'wrong-length')
    }
  })

  it('refuses PINGREQ and DISCONNECT with a remaining length [MQTT-3.12.1] [MQTT-3.14.1]', () => {
    assert.equal(check(Buffer.from([0xc0, 0x00])), null)
    assert.equal(check(Buffer.from([0xe0, 0x00])), null)
    assert.equal(check(Buffer.from([0xc0, 0x01, 0x00])), 'wrong-length')
    assert.equal(check(Buffer.from([0xe0, 0x01, 0x00])), 'wrong-length')
  })

  it('refuses reserved flags [MQTT-2.2.2-2] [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1] and PUBLISH QoS 3 [MQTT-3.3.1-4]', () => {
    assert.equal(check(Buffer.from([0x60, 0x02, 0x00, 0x01])), 'reserved-flags')
    assert.equal(check(frame(0x80, u16(1), str('a'), Buffer.from([0]))), 'reserved-flags')
    assert.equal(check(frame(0xa0, u16(1), str('a'))), 'reserved-flags')
    assert.equal(check(Buffer.from([0x41, 0x02, 0x00, 0x01])), 'reserved-flags')
    assert.equal(check(Buffer.from([0xc8, 0x00])), 'reserved-flags')
    assert.equal(check(Buffer.from([0x16, 0x00])), 'reserved-flags')
    assert.equal(check(rawPublish(Buffer.from('a'), Buffer.from('x'), 3, 1)), 'publish-qos')
  })
})

describe('topic filters and topic levels', () => {
  it('refuses SUBSCRIBE [MQTT-3.8.3-3] and UNSUBSCRIBE [MQTT-3.10.3-2] without a topic filter', () => {
    assert.equal(check(frame(0x82, u16(1))), 'no-topic-filter')
    assert.equal(check(frame(0xa2, u16(1))), 'no-topic-filter')
    assert.equal(check(frame(0x82, u16(1), str('a'))), 'truncated', 'a filter without its requested QoS')
    assert.equal(check(frame(0xa2, u16(1), str('a'), str('b'))), null)
  })

  it('refuses a PUBLISH deeper than maxTopicLevels', () => {
    assert.equal(checkPacket(rawPublish(Buffer.from(levels(5)), Buffer.from('x')), 2, { maxTopicLevels: 4 }), 'too-many-levels')
    assert.equal(checkPacket(rawPublish(Buffer.from(levels(4)), Buffer.from('x')), 2, { maxTopicLevels: 4 }), null)
  })

  it('replaces each too-deep SUBSCRIBE filter with its own placeholder, which the ACL refuses', () => {
    const subscribe = packet({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'a/b', qos: 1 }, { topic: levels(5), qos: 2 }, { topic: 'c', qos: 0 }, { topic: levels(5), qos: 1 }] })
    const rewritten = replaceDeepFilters(subscribe, 2, 4)
    assert.ok(rewritten)
    assert.equal(rewritten.replaced, 2)
    assert.equal(rewritten.refused, 2)
    assert.equal(check(rewritten.packet), 'null-character', 'a client could never send a placeholder')
    const parsed = parse(rewritten.packet) as mqttPacket.ISubscribePacket
    assert.equal(parsed.messageId, 7)
    assert.deepEqual(parsed.subscriptions.map((s) => [s.topic, s.qos]), [['a/b', 1], [placeholderFilter(1), 2], ['c', 0], [placeholderFilter(3), 1]])
    for (const placeholder of [placeholderFilter(1), placeholderFilter(3)]) {
      assert.equal(placeholder.split('/').length, 1, 'one level: valid under any limit')
      assert.ok(!isValidFilter(placeholder))
    }
    assert.equal(replaceDeepFilters(subscribe, 2, 5), null, 'nothing to replace')
  })

  it('replaces too-deep UNSUBSCRIBE filters, and leaves other packets alone', () => {
    const unsubscribe = packet({ cmd: 'unsubscribe', messageId: 9, unsubscriptions: [levels(101), 'x'] })
    const rewritten = replaceDeepFilters(unsubscribe, unsubscribe[1]! & 0x80 ? 3 : 2, 100)
    assert.ok(rewritten)
    assert.deepEqual((parse(rewritten.packet) as mqttPacket.IUnsubscribePacket).unsubscriptions, [placeholderFilter(0), 'x'])
    assert.equal(rewritten.refused, 0, 'an UNSUBSCRIBE refuses nothing')
    const publish = rawPublish(Buffer.from(levels(101)), Buffer.from('x'))
    assert.equal(replaceDeepFilters(publish, 3, 100), null)
  })
})

describe('the packet guard', () => {
  /** A raw connection that records each write it is given. */
  const recorder = (): { raw: Duplex, writes: Buffer[] } => {
    const writes: Buffer[] = []
    const raw = new Duplex({ read () {}, write (chunk: Buffer, _enc, cb) { writes.push(chunk); cb() } })
    return { raw, writes }
  }

  it('hands everything written in one event-loop turn to the connection as one write [IM-PERF-4]', async () => {
    const { raw, writes } = recorder()
    const guarded = guardConnection(raw, { maxPacketBytes: 1024, maxTopicLevels: 100, onRefuse: () => undefined })
    const connack = { cmd: 'connack', returnCode: 0, sessionPresent: false } as const
    const publish = { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 1, messageId: 3, retain: false, dup: false } as const
    mqttPacket.writeToStream(connack, guarded) // nothing goes before it (turn-writer.test.ts)
    mqttPacket.writeToStream(publish, guarded) // 5–6 chunks, corked until the next tick
    // …and a packet written from a setImmediate of the same turn, as aedes delivers each message
    setImmediate(() => { mqttPacket.writeToStream({ cmd: 'pingresp' }, guarded) })
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(writes.length, 1)
    assert.deepEqual(writes[0], Buffer.concat([mqttPacket.generate(connack), mqttPacket.generate(publish), Buffer.from([0xd0, 0x00])]))
  })

  it('answers CONNACK 0x01 to a first CONNECT of an unsupported level, then closes [MQTT-3.1.2-2]', async () => {
    const { raw, writes } = recorder()
    const reasons: string[] = []
    const guarded = guardConnection(raw, { maxPacketBytes: 1024, maxTopicLevels: 100, onRefuse: (r) => reasons.push(r) })
    const passed: Buffer[] = []
    guarded.on('data', (b: Buffer) => passed.push(b))
    raw.emit('data', connect(0x02, [], 'MQTT', 5))
    await new Promise((resolve) => raw.once('close', resolve))
    assert.deepEqual(writes, [Buffer.from([0x20, 0x02, 0x00, 0x01])])
    assert.deepEqual(reasons, ['unsupported-protocol-level'])
    assert.deepEqual(passed, [], 'aedes never sees the CONNECT')
  })
})
