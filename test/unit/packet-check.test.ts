import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkPacket } from '../../broker/transport/packet-check.js'
import { CONNECT, packet, rawPublish } from '../helpers/raw.js'

const check = (bytes: Buffer): string | null => checkPacket(bytes, bytes[1]! & 0x80 ? 3 : 2)

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
