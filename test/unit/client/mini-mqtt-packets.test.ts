/**
 * The widget's MQTT 3.1.1 packets: every packet round-trips through encode/decode, and its bytes
 * are the ones `mqtt-packet` (MQTT.js' codec) generates and parses; the reader copes with several
 * packets per frame, packets split across frames, and refuses malformed streams.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generate, parser } from 'mqtt-packet'
import {
  decode, encode, encodeRemainingLength, MalformedPacketError, PacketReader, type Packet
} from '../../../shared/client/mini-mqtt/packets.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/** What mqtt-packet reads from these bytes. */
function parseWithMqttPacket (data: Uint8Array): any[] {
  const p = parser({ protocolVersion: 4 })
  const out: any[] = []
  p.on('packet', (packet: any) => out.push(packet))
  p.on('error', (err: Error) => { throw err })
  p.parse(Buffer.from(data))
  return out
}

/** Our packet, and the same packet as mqtt-packet describes it. */
const cases: Array<{ name: string, ours: Packet, theirs: any }> = [
  {
    name: 'CONNECT with username and password',
    ours: { type: 'connect', clientId: 'widget-1', username: 'visitor_é', password: 'eyJ.token', clean: false, keepalive: 30 },
    theirs: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'widget-1', username: 'visitor_é', password: Buffer.from('eyJ.token'), clean: false, keepalive: 30 }
  },
  {
    name: 'CONNECT, clean, without credentials',
    ours: { type: 'connect', clientId: '', clean: true, keepalive: 0 },
    theirs: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 0 }
  },
  { name: 'CONNACK accepted, session present', ours: { type: 'connack', sessionPresent: true, returnCode: 0 }, theirs: { cmd: 'connack', sessionPresent: true, returnCode: 0 } },
  { name: 'CONNACK not authorized', ours: { type: 'connack', sessionPresent: false, returnCode: 5 }, theirs: { cmd: 'connack', sessionPresent: false, returnCode: 5 } },
  {
    name: 'PUBLISH QoS 0 with a UTF-8 topic and payload',
    ours: { type: 'publish', topic: 'im/u/李雷/in', payload: bytes('{"t":"你好 😀"}'), qos: 0, dup: false, retain: false },
    theirs: { cmd: 'publish', topic: 'im/u/李雷/in', payload: Buffer.from('{"t":"你好 😀"}'), qos: 0, dup: false, retain: false }
  },
  {
    name: 'PUBLISH QoS 1, retained',
    ours: { type: 'publish', topic: 'im/p/alice', payload: bytes('{"online":true}'), qos: 1, dup: false, retain: true, messageId: 65535 },
    theirs: { cmd: 'publish', topic: 'im/p/alice', payload: Buffer.from('{"online":true}'), qos: 1, dup: false, retain: true, messageId: 65535 }
  },
  {
    name: 'PUBLISH QoS 1 re-sent with DUP',
    ours: { type: 'publish', topic: 'im/u/alice/out', payload: bytes('x'), qos: 1, dup: true, retain: false, messageId: 1 },
    theirs: { cmd: 'publish', topic: 'im/u/alice/out', payload: Buffer.from('x'), qos: 1, dup: true, retain: false, messageId: 1 }
  },
  {
    name: 'PUBLISH with a 200 KB payload (3-byte remaining length)',
    ours: { type: 'publish', topic: 't', payload: new Uint8Array(200_000).fill(7), qos: 1, dup: false, retain: false, messageId: 300 },
    theirs: { cmd: 'publish', topic: 't', payload: Buffer.alloc(200_000, 7), qos: 1, dup: false, retain: false, messageId: 300 }
  },
  {
    name: 'PUBLISH with an empty payload',
    ours: { type: 'publish', topic: 'im/p/bob', payload: new Uint8Array(0), qos: 0, dup: false, retain: true },
    theirs: { cmd: 'publish', topic: 'im/p/bob', payload: Buffer.alloc(0), qos: 0, dup: false, retain: true }
  },
  { name: 'PUBACK', ours: { type: 'puback', messageId: 258 }, theirs: { cmd: 'puback', messageId: 258 } },
  {
    name: 'SUBSCRIBE with two filters',
    ours: { type: 'subscribe', messageId: 7, subscriptions: [{ topic: 'im/u/alice/in', qos: 1 }, { topic: 'im/b/#', qos: 0 }] },
    theirs: { cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'im/u/alice/in', qos: 1 }, { topic: 'im/b/#', qos: 0 }] }
  },
  { name: 'SUBACK with a refused filter', ours: { type: 'suback', messageId: 7, granted: [1, 0, 0x80] }, theirs: { cmd: 'suback', messageId: 7, granted: [1, 0, 0x80] } },
  { name: 'PINGREQ', ours: { type: 'pingreq' }, theirs: { cmd: 'pingreq' } },
  { name: 'PINGRESP', ours: { type: 'pingresp' }, theirs: { cmd: 'pingresp' } },
  { name: 'DISCONNECT', ours: { type: 'disconnect' }, theirs: { cmd: 'disconnect' } }
]

function decodeWhole (data: Uint8Array): Packet {
  const packets = new PacketReader().push(data)
  assert.equal(packets.length, 1)
  return packets[0]!
}

describe('mini MQTT packets', () => {
  describe('remaining length [MQTT-2.2.3]', () => {
    const table: Array<[number, number[]]> = [
      [0, [0x00]], [127, [0x7f]], [128, [0x80, 0x01]], [16_383, [0xff, 0x7f]], [16_384, [0x80, 0x80, 0x01]],
      [2_097_151, [0xff, 0xff, 0x7f]], [2_097_152, [0x80, 0x80, 0x80, 0x01]], [268_435_455, [0xff, 0xff, 0xff, 0x7f]]
    ]
    for (const [length, encoded] of table) {
      it(`encodes ${length} in ${encoded.length} byte(s)`, () => {
        assert.deepEqual([...encodeRemainingLength(length)], encoded)
      })
    }
    it('refuses lengths it cannot carry', () => {
      assert.throws(() => encodeRemainingLength(268_435_456), RangeError)
      assert.throws(() => encodeRemainingLength(-1), RangeError)
    })
  })

  for (const c of cases) {
    describe(c.name, () => {
      it('encodes to the bytes mqtt-packet generates', () => {
        assert.deepEqual(Buffer.from(encode(c.ours)), generate(c.theirs))
      })
      it('round-trips through encode and decode', () => {
        assert.deepEqual(decodeWhole(encode(c.ours)), c.ours)
      })
      it('decodes what mqtt-packet generates, and mqtt-packet parses what it encodes', () => {
        assert.deepEqual(decodeWhole(new Uint8Array(generate(c.theirs))), c.ours)
        const [parsed] = parseWithMqttPacket(encode(c.ours))
        for (const [key, value] of Object.entries(c.theirs)) assert.deepEqual(parsed[key], value, key)
      })
    })
  }

  describe('the reader', () => {
    const stream = [cases[0]!.ours, cases[4]!.ours, cases[7]!.ours, cases[10]!.ours, cases[12]!.ours].map(encode)
    const all = Uint8Array.from(stream.flatMap((b) => [...b]))
    const expected = [cases[0]!.ours, cases[4]!.ours, cases[7]!.ours, cases[10]!.ours, cases[12]!.ours]

    it('reads several packets from one frame', () => {
      assert.deepEqual(new PacketReader().push(all), expected)
    })

    it('reads packets split across frames, even byte by byte through the remaining length', () => {
      const reader = new PacketReader()
      const out: Packet[] = []
      // byte by byte for the first 300 bytes, then in odd-sized chunks
      for (let i = 0; i < 300; i++) out.push(...reader.push(all.subarray(i, i + 1)))
      for (let i = 300; i < all.length; i += 4099) out.push(...reader.push(all.subarray(i, i + 4099)))
      assert.deepEqual(out, expected)
      assert.equal(reader.buffered, 0)
    })

    it('keeps a partial packet until the rest comes', () => {
      const reader = new PacketReader()
      const ping = encode({ type: 'pingresp' })
      const puback = encode({ type: 'puback', messageId: 9 })
      assert.deepEqual(reader.push(Uint8Array.from([...ping, ...puback.subarray(0, 3)])), [{ type: 'pingresp' }])
      assert.equal(reader.buffered, 3)
      assert.deepEqual(reader.push(puback.subarray(3)), [{ type: 'puback', messageId: 9 }])
    })

    it('does not share the payload with the frame it came in', () => {
      const frame = encode({ type: 'publish', topic: 't', payload: bytes('abc'), qos: 0, dup: false, retain: false })
      const [packet] = new PacketReader().push(frame) as [Extract<Packet, { type: 'publish' }>]
      frame.fill(0)
      assert.equal(new TextDecoder().decode(packet.payload), 'abc')
    })
  })

  describe('malformed input is refused [MQTT-4.8.0-1]', () => {
    const refuse = (data: number[], why: RegExp): void => {
      assert.throws(() => new PacketReader().push(Uint8Array.from(data)), (err: Error) => err instanceof MalformedPacketError && why.test(err.message))
    }
    it('a remaining length of more than 4 bytes', () => { refuse([0x30, 0xff, 0xff, 0xff, 0xff, 0x01], /4 bytes/) })
    it('a packet larger than the limit', () => {
      assert.throws(() => new PacketReader(10).push(Uint8Array.from([0x30, 0x20])), /too large/)
    })
    it('reserved flags that are set [MQTT-2.2.2-2]', () => { refuse([0x82 & 0xf0, 0x03, 0, 1, 0], /bad flags/); refuse([0x41, 0x02, 0, 1], /bad flags/) })
    it('PUBLISH with QoS 3 [MQTT-3.3.1-4]', () => { refuse([0x36, 0x03, 0, 1, 0x74], /QoS 3/) })
    it('ill-formed UTF-8 [MQTT-1.5.3-1]', () => { refuse([0x30, 0x04, 0, 2, 0xc3, 0x28], /UTF-8/) })
    it('U+0000 in a string [MQTT-1.5.3-2]', () => { refuse([0x30, 0x03, 0, 1, 0x00], /U\+0000/) })
    it('a truncated body', () => { refuse([0x40, 0x01, 0x00], /truncated/) })
    it('trailing bytes', () => { refuse([0xd0, 0x01, 0x00], /trailing/) })
    it('packet types this client does not speak (QoS 2 flow, UNSUBSCRIBE)', () => {
      refuse([0x50, 0x02, 0, 1], /unsupported packet type 5/)
      refuse([0x34, 0x05, 0, 1, 0x74, 0, 1], /QoS 2/)
    })
    it('an unknown protocol level in CONNECT', () => {
      const connect = encode({ type: 'connect', clientId: 'c', clean: true, keepalive: 0 })
      connect[8] = 5
      assert.throws(() => decode(connect[0]!, connect.subarray(2)), /unsupported protocol/)
    })
  })

  describe('encoding refuses what the protocol forbids', () => {
    it('a QoS 1 PUBLISH without packet id [MQTT-2.3.1-1]', () => {
      assert.throws(() => encode({ type: 'publish', topic: 't', payload: new Uint8Array(0), qos: 1, dup: false, retain: false }), RangeError)
    })
    it('a password without username [MQTT-3.1.2-22]', () => {
      assert.throws(() => encode({ type: 'connect', clientId: 'c', password: 'p', clean: true, keepalive: 0 }), RangeError)
    })
    it('a SUBSCRIBE without filters [MQTT-3.8.3-3]', () => {
      assert.throws(() => encode({ type: 'subscribe', messageId: 1, subscriptions: [] }), RangeError)
    })
    it('a string longer than 65535 bytes', () => {
      assert.throws(() => encode({ type: 'publish', topic: 'x'.repeat(65_536), payload: new Uint8Array(0), qos: 0, dup: false, retain: false }), RangeError)
    })
    it('never sets DUP on QoS 0 [MQTT-3.3.1-2]', () => {
      assert.equal(encode({ type: 'publish', topic: 't', payload: new Uint8Array(0), qos: 0, dup: true, retain: false })[0], 0x30)
    })
  })
})
