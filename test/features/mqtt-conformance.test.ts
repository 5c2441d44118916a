/**
 * MQTT 3.1.1 rules the broker side MUST keep, proven with hand-built bytes over a real TCP socket
 * (and a WebSocket where the transport matters). Each test names its rule; each refusal is also
 * counted in `mqtt_protocol_errors_total{reason}`. See docs/protocol.md "Malformed input".
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { MqttClient } from 'mqtt'
import { loadConfig } from '../../broker/config/load.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { collect, connectClient, waitFor, type Received } from '../helpers/mqtt.js'
import { closedWithin, frame, mqttString, rawPublish, rawTcp, rawWebSocket, u16, type RawConnection } from '../helpers/raw.js'

const CHUNK_READER = fileURLToPath(new URL('../helpers/chunk-reader.ts', import.meta.url))

// ---- CONNECT flags [MQTT-3.1.2] ----
const RESERVED = 0x01
const CLEAN = 0x02
const WILL = 0x04
const WILL_QOS_1 = 0x08
const WILL_RETAIN = 0x20
const PASSWORD = 0x40
const USERNAME = 0x80

interface ConnectBytes { name?: string, level?: number, flags?: number, fields?: Buffer[] }

/** A CONNECT written byte by byte: `fields` follow the client id exactly as given, whatever the flags say. */
function rawConnect (clientId: string, { name = 'MQTT', level = 4, flags = CLEAN, fields = [] }: ConnectBytes = {}): Buffer {
  return frame(0x10, mqttString(name), Buffer.from([level, flags]), u16(30), mqttString(clientId), ...fields)
}
const will = (topic: string, payload = 'gone'): Buffer[] => [mqttString(topic), mqttString(payload)]
const subscribe = (packetId: number, ...filters: string[]): Buffer => frame(0x82, u16(packetId), ...filters.flatMap((f) => [mqttString(f), Buffer.from([1])]))
const unsubscribe = (packetId: number, ...filters: string[]): Buffer => frame(0xa2, u16(packetId), ...filters.map((f) => mqttString(f)))
const PINGREQ = Buffer.from([0xc0, 0x00])
const PINGRESP = [0xd0, 0x00]
const CONNACK = (code: number): number[] => [0x20, 0x02, 0x00, code]
const deep = (levels: number, leaf = 'x'): string => Array.from({ length: levels }, (_, i) => i === levels - 1 ? leaf : 'd').join('/')

interface Parsed { type: number, flags: number, body: Buffer }

/** Cuts `bytes` into whole packets; throws when `bytes` does not end on a packet boundary. */
function wholePackets (bytes: Buffer): Parsed[] {
  const packets: Parsed[] = []
  let offset = 0
  while (offset < bytes.length) {
    let length = 0
    let i = 1
    for (let multiplier = 1; ; multiplier *= 128, i++) {
      const byte = bytes[offset + i]
      if (byte === undefined) throw new Error(`a chunk ends inside a fixed header at byte ${offset}`)
      length += (byte & 0x7f) * multiplier
      if ((byte & 0x80) === 0) break
    }
    const end = offset + i + 1 + length
    if (end > bytes.length) throw new Error(`a chunk ends inside a packet: ${bytes.length - offset} of ${end - offset} bytes`)
    packets.push({ type: (bytes[offset] as number) >> 4, flags: (bytes[offset] as number) & 0x0f, body: bytes.subarray(offset + i + 1, end) })
    offset = end
  }
  return packets
}

describe('MQTT 3.1.1 broker-side rules, over raw sockets (ANONYMOUS_NAMESPACE=#)', () => {
  let broker: TestBroker
  let port: number
  const raws: RawConnection[] = []
  const clients: MqttClient[] = []
  const children: ChildProcess[] = []

  const open = async (kind: 'tcp' | 'ws' = 'tcp'): Promise<RawConnection> => {
    const conn = kind === 'tcp' ? await rawTcp(port) : await rawWebSocket(broker.wsUrl)
    raws.push(conn)
    return conn
  }
  /** A raw connection whose CONNECT was accepted; `received()` then starts after the CONNACK. */
  const connected = async (clientId: string, kind: 'tcp' | 'ws' = 'tcp', connect?: ConnectBytes): Promise<RawConnection> => {
    const conn = await open(kind)
    conn.write(rawConnect(clientId, connect))
    await waitFor(() => conn.received().length >= 4 || conn.isClosed(), 3000, 'CONNACK')
    assert.deepEqual([...conn.received().subarray(0, 4)], CONNACK(0))
    return { ...conn, received: () => conn.received().subarray(4) }
  }
  const refusals = async (reason: string): Promise<number> => {
    const { values } = await broker.server.metrics.protocolErrors.get()
    return values.find((v) => v.labels.reason === reason)?.value ?? 0
  }
  /** Sends `bytes` on `conn`: the broker closes it, writes nothing more, and counts `reason`. */
  const refused = async (conn: RawConnection, bytes: Buffer, reason: string): Promise<void> => {
    const counted = await refusals(reason)
    conn.write(bytes)
    assert.ok(await closedWithin(conn), 'the broker closes the connection')
    assert.deepEqual([...conn.received()], [], 'and answers nothing')
    assert.equal(await refusals(reason), counted + 1, `counted as ${reason}`)
  }
  const stillServing = async (conn: RawConnection): Promise<void> => {
    const before = conn.received().length
    conn.write(PINGREQ)
    await waitFor(() => conn.received().length >= before + 2 || conn.isClosed(), 3000, 'PINGRESP')
    assert.deepEqual([...conn.received().subarray(before)], PINGRESP)
  }

  before(async () => {
    broker = await startTestBroker({ ANONYMOUS_NAMESPACE: '#' })
    port = broker.server.ports.mqtt
  })
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    for (const conn of raws) conn.destroy()
    await Promise.all(clients.map(async (c) => { await c.endAsync(true) }))
    await broker.stop()
  })

  describe('CONNECT: protocol name and level', () => {
    for (const [name, level] of [['MQTT', 5], ['MQTT', 2], ['MQTT', 3], ['MQIsdp', 4]] as const) {
      it(`answers ${name} level ${level} with CONNACK 0x01 (20 02 00 01), then closes [MQTT-3.1.2-2]`, async () => {
        const counted = await refusals('unsupported-protocol-level')
        const conn = await open()
        conn.write(rawConnect(`level-${name}-${level}`, { name, level }))
        assert.ok(await closedWithin(conn), 'the broker closes the connection')
        assert.deepEqual([...conn.received()], CONNACK(1))
        assert.equal(await refusals('unsupported-protocol-level'), counted + 1)
      })
    }

    it('answers MQTT level 5 over WebSocket with CONNACK 0x01 too, then closes [MQTT-3.1.2-2]', async () => {
      const conn = await open('ws')
      conn.write(rawConnect('level-ws-5', { level: 5 }))
      assert.ok(await closedWithin(conn), 'the broker closes the connection')
      assert.deepEqual([...conn.received()], CONNACK(1))
    })

    it('accepts MQTT level 4 and MQIsdp level 3 (control)', async () => {
      await connected('level-mqtt-4')
      await connected('level-mqisdp-3', 'tcp', { name: 'MQIsdp', level: 3 })
    })

    it('answers an MQTT 3.1 (MQIsdp) CONNECT with a client id over 23 characters with CONNACK 2, identifier rejected (MQTT 3.1 §3.1), then closes', async () => {
      const conn = await open()
      conn.write(rawConnect('x'.repeat(28), { name: 'MQIsdp', level: 3 }))
      assert.ok(await closedWithin(conn), 'the broker closes the connection')
      assert.deepEqual([...conn.received()], CONNACK(2))
    })

    it('closes a CONNECT whose protocol name is neither MQTT nor MQIsdp, without CONNACK [MQTT-3.1.2-1]', async () => {
      await refused(await open(), rawConnect('bad-name', { name: 'MQTX' }), 'bad-protocol-name')
    })
  })

  describe('CONNECT: flags must agree with the payload', () => {
    it('closes a CONNECT with the reserved flag bit 0 set [MQTT-3.1.2-3]', async () => {
      await refused(await open(), rawConnect('reserved-bit', { flags: CLEAN | RESERVED }), 'connect-reserved-flag')
    })

    it('closes a CONNECT with Will Flag 0 but Will QoS 1 [MQTT-3.1.2-11] [MQTT-3.1.2-13]', async () => {
      await refused(await open(), rawConnect('will-qos-no-will', { flags: CLEAN | WILL_QOS_1 }), 'will-flags')
    })

    it('closes a CONNECT with Will Flag 0 but Will Retain 1 [MQTT-3.1.2-15]', async () => {
      await refused(await open(), rawConnect('will-retain-no-will', { flags: CLEAN | WILL_RETAIN }), 'will-flags')
    })

    it('closes a CONNECT with the Password Flag but not the User Name Flag [MQTT-3.1.2-22]', async () => {
      await refused(await open(), rawConnect('password-only', { flags: CLEAN | PASSWORD, fields: [mqttString('secret')] }), 'password-without-username')
    })

    it('closes a CONNECT whose User Name Flag is set but has no user name [MQTT-3.1.2-19]', async () => {
      await refused(await open(), rawConnect('username-missing', { flags: CLEAN | USERNAME }), 'truncated')
    })

    it('closes a CONNECT whose Password Flag is set but has no password [MQTT-3.1.2-21]', async () => {
      await refused(await open(), rawConnect('password-missing', { flags: CLEAN | USERNAME | PASSWORD, fields: [mqttString('someone')] }), 'truncated')
    })

    it('closes a CONNECT carrying a user name its flags do not announce [MQTT-3.1.2-18] [MQTT-3.1.4-1]', async () => {
      await refused(await open(), rawConnect('username-unannounced', { fields: [mqttString('someone')] }), 'trailing-bytes')
    })

    it('closes a CONNECT carrying a password its flags do not announce [MQTT-3.1.2-20] [MQTT-3.1.4-1]', async () => {
      await refused(await open(), rawConnect('password-unannounced', { flags: CLEAN | USERNAME, fields: [mqttString('someone'), mqttString('secret')] }), 'trailing-bytes')
    })

    it('answers a well-formed CONNECT with unknown credentials with CONNACK 5, not a close (control)', async () => {
      const conn = await open()
      conn.write(rawConnect('credentials-ok', { flags: CLEAN | USERNAME | PASSWORD, fields: [mqttString('nobody'), mqttString('wrong')] }))
      assert.ok(await closedWithin(conn))
      assert.deepEqual([...conn.received()], CONNACK(5))
    })
  })

  describe('CONNECT: the Will Topic is a topic name', () => {
    it('closes a CONNECT with a zero-length Will Topic [MQTT-4.7.3-1]', async () => {
      await refused(await open(), rawConnect('will-empty', { flags: CLEAN | WILL, fields: will('') }), 'will-topic-empty')
    })

    for (const topic of ['will/+/x', 'will/#']) {
      it(`closes a CONNECT whose Will Topic is "${topic}": a topic name holds no wildcard [MQTT-3.3.2-2]`, async () => {
        await refused(await open(), rawConnect(`will-wild-${topic.length}`, { flags: CLEAN | WILL, fields: will(topic) }), 'will-topic-wildcard')
      })
    }

    it('closes a CONNECT whose Will Topic is deeper than MAX_TOPIC_LEVELS (100)', async () => {
      await refused(await open(), rawConnect('will-deep', { flags: CLEAN | WILL, fields: will(deep(101)) }), 'too-many-levels')
    })
  })

  describe('fixed header and remaining length', () => {
    const lengths: Array<[string, Buffer]> = [
      ['PUBACK with remaining length 0', Buffer.from([0x40, 0x00])],
      ['PUBACK with remaining length 3', Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00])],
      ['PUBREC with remaining length 1', Buffer.from([0x50, 0x01, 0x00])],
      ['PUBREC with remaining length 0', Buffer.from([0x50, 0x00])],
      ['PUBREL with remaining length 1', Buffer.from([0x62, 0x01, 0x00])],
      ['PUBREL with remaining length 0', Buffer.from([0x62, 0x00])],
      ['PUBCOMP with remaining length 3', Buffer.from([0x70, 0x03, 0x00, 0x01, 0x00])],
      ['PINGREQ with remaining length 1', Buffer.from([0xc0, 0x01, 0x00])]
    ]
    for (const [what, bytes] of lengths) {
      it(`closes on a ${what}, writing nothing (no 62 02 / 70 02) [MQTT-4.8.0-1]`, async () => {
        await refused(await connected(`length-${bytes[0]}-${bytes[1]}`), bytes, 'wrong-length')
      })
    }

    it('closes on a DISCONNECT with remaining length 1, and publishes the will: it is no clean DISCONNECT [MQTT-4.8.0-1] [MQTT-3.1.2-8]', async () => {
      const watcher = await connectClient(broker.mqttUrl, { clientId: 'bad-disconnect-watcher' })
      clients.push(watcher)
      await watcher.subscribeAsync('bad-disconnect/will', { qos: 1 })
      const got: Received[] = collect(watcher)
      const conn = await connected('bad-disconnect', 'tcp', { flags: CLEAN | WILL, fields: will('bad-disconnect/will') })
      await refused(conn, Buffer.from([0xe0, 0x01, 0x00]), 'wrong-length')
      await waitFor(() => got.length > 0, 3000, 'the will')
      assert.deepEqual(got.map((m) => m.payload), ['gone'])
    })

    const flags: Array<[string, Buffer]> = [
      ['PUBREL with flags 0000 [MQTT-3.6.1-1]', Buffer.from([0x60, 0x02, 0x00, 0x01])],
      ['SUBSCRIBE with flags 0000 [MQTT-3.8.1-1]', frame(0x80, u16(1), mqttString('a'), Buffer.from([0]))],
      ['UNSUBSCRIBE with flags 0000 [MQTT-3.10.1-1]', frame(0xa0, u16(1), mqttString('a'))],
      ['PUBACK with flags 0010 [MQTT-2.2.2-1]', Buffer.from([0x42, 0x02, 0x00, 0x01])],
      ['PINGREQ with flags 0001 [MQTT-2.2.2-1]', Buffer.from([0xc1, 0x00])]
    ]
    for (const [what, bytes] of flags) {
      it(`closes on a ${what}`, async () => {
        await refused(await connected(`flags-${bytes[0]}`), bytes, 'reserved-flags')
      })
    }
  })

  describe('SUBSCRIBE and UNSUBSCRIBE carry at least one topic filter', () => {
    it('closes on an UNSUBSCRIBE without a topic filter, sending no UNSUBACK [MQTT-3.10.3-2]', async () => {
      await refused(await connected('unsubscribe-empty'), unsubscribe(3), 'no-topic-filter')
    })

    it('closes on a SUBSCRIBE without a topic filter, sending no SUBACK [MQTT-3.8.3-3]', async () => {
      await refused(await connected('subscribe-empty'), subscribe(4), 'no-topic-filter')
    })
  })

  describe('topic levels: MAX_TOPIC_LEVELS (default 100)', () => {
    it('refuses a SUBSCRIBE filter deeper than the limit with 0x80 for that filter and grants the others [MQTT-3.9.3-1]', async () => {
      const counted = await refusals('filter-too-many-levels')
      const conn = await connected('deep-subscribe')
      // the same too-deep filter twice: one return code per filter, both 0x80 [MQTT-3.8.4-5]
      conn.write(subscribe(5, 'levels/a', deep(101), 'levels/b', deep(101), deep(200, '#'), deep(100, '#')))
      await waitFor(() => conn.received().length >= 10 || conn.isClosed(), 3000, 'SUBACK')
      assert.deepEqual([...conn.received()], [0x90, 0x08, 0x00, 0x05, 0x01, 0x80, 0x01, 0x80, 0x80, 0x01])
      assert.equal(await refusals('filter-too-many-levels'), counted + 3)
      await stillServing(conn)
      // the granted filters work
      conn.write(rawPublish(Buffer.from('levels/b'), Buffer.from('hello'), 0))
      await waitFor(() => conn.received().length > 12, 3000, 'the message on levels/b')
      assert.deepEqual(wholePackets(conn.received().subarray(12)).map((p) => [p.type, p.body.subarray(2, 10).toString()]), [[3, 'levels/b']])
    })

    it('keeps a persistent session whose SUBSCRIBE had a too-deep filter: it resumes, the granted filter still delivers', async () => {
      const first = await connected('deep-persistent', 'tcp', { flags: 0 })
      first.write(subscribe(8, 'levels/kept', deep(101)))
      await waitFor(() => first.received().length >= 6, 3000, 'SUBACK')
      assert.deepEqual([...first.received()], [0x90, 0x04, 0x00, 0x08, 0x01, 0x80])
      first.write(Buffer.from([0xe0, 0x00]))
      assert.ok(await closedWithin(first))
      const again = await open()
      again.write(rawConnect('deep-persistent', { flags: 0 }))
      await waitFor(() => again.received().length >= 4, 3000, 'CONNACK')
      assert.deepEqual([...again.received()], [0x20, 0x02, 0x01, 0x00], 'session present [MQTT-3.2.2-2]')
      again.write(rawPublish(Buffer.from('levels/kept'), Buffer.from('kept'), 0))
      await waitFor(() => again.received().length > 4, 3000, 'the message on levels/kept')
      assert.deepEqual(wholePackets(again.received().subarray(4)).map((p) => p.type), [3])
    })

    it('answers an UNSUBSCRIBE of a too-deep filter with a normal UNSUBACK', async () => {
      const conn = await connected('deep-unsubscribe')
      conn.write(unsubscribe(6, deep(101), 'levels/a', deep(101)))
      await waitFor(() => conn.received().length >= 4 || conn.isClosed(), 3000, 'UNSUBACK')
      assert.deepEqual([...conn.received()], [0xb0, 0x02, 0x00, 0x06])
      await stillServing(conn)
    })

    it('closes on a PUBLISH deeper than the limit: MQTT 3.1.1 has no other way to refuse it [MQTT-4.8.0-1]', async () => {
      await refused(await connected('deep-publish'), rawPublish(Buffer.from(deep(101)), Buffer.from('x'), 1, 9), 'too-many-levels')
    })

    it('serves a topic of exactly 100 levels (control)', async () => {
      const topic = deep(100)
      const conn = await connected('deep-100')
      conn.write(subscribe(7, topic))
      await waitFor(() => conn.received().length >= 5, 3000, 'SUBACK')
      conn.write(rawPublish(Buffer.from(topic), Buffer.from('deep'), 1, 8))
      await waitFor(() => wholePackets(conn.received()).length >= 3, 3000, 'PUBACK and the message')
      assert.deepEqual(wholePackets(conn.received()).map((p) => p.type).sort(), [3, 4, 9])
    })

    describe('with MAX_TOPIC_LEVELS=4', () => {
      let small: TestBroker
      before(async () => { small = await startTestBroker({ ANONYMOUS_NAMESPACE: '#', MAX_TOPIC_LEVELS: 4 }) })
      after(async () => { await small.stop() })

      it('grants a/b/c/d and a/+/#, refuses a/b/c/d/e and a/b/c/d/#, and closes on a PUBLISH to a/b/c/d/e', async () => {
        const conn = await rawTcp(small.server.ports.mqtt)
        raws.push(conn)
        conn.write(rawConnect('small-limit'))
        conn.write(subscribe(1, 'a/b/c/d', 'a/b/c/d/e', 'a/+/#', 'a/b/c/d/#'))
        await waitFor(() => conn.received().length >= 12 || conn.isClosed(), 3000, 'CONNACK and SUBACK')
        assert.deepEqual([...conn.received()], [...CONNACK(0), 0x90, 0x06, 0x00, 0x01, 0x01, 0x80, 0x01, 0x80])
        conn.write(rawPublish(Buffer.from('a/b/c/d/e'), Buffer.from('x'), 0))
        assert.ok(await closedWithin(conn))
      })

      it('cannot be set below 4, the depth of the broker\'s own topics, nor above aedes\' ceiling of 100', () => {
        assert.throws(() => loadConfig({ overrides: { MAX_TOPIC_LEVELS: 3 } }), /MAX_TOPIC_LEVELS must be at least 4/)
        assert.throws(() => loadConfig({ overrides: { MAX_TOPIC_LEVELS: 101 } }), /MAX_TOPIC_LEVELS must be at most 100/)
      })
    })
  })

  describe('one packet per write: a reader doing one recv() per packet reads whole packets', () => {
    const count = 8
    /** Publishes `count` small messages (QoS 0 and 1) one at a time, each once the last arrived. */
    const publishOneByOne = async (topic: string, publishes: () => number): Promise<void> => {
      const publisher = await connectClient(broker.mqttUrl, { clientId: `chunks-publisher-${topic.replaceAll('/', '-')}` })
      clients.push(publisher)
      for (let i = 0; i < count; i++) {
        await publisher.publishAsync(topic, `message ${i}`, { qos: i % 2 as 0 | 1 })
        await waitFor(() => publishes() > i, 3000, `message ${i}`)
      }
    }
    const assertWhole = (chunks: Buffer[]): void => {
      const sizes = chunks.map((chunk) => chunk.length).join(', ')
      for (const chunk of chunks) assert.doesNotThrow(() => wholePackets(chunk), `chunk sizes: ${sizes}`)
      assert.equal(wholePackets(Buffer.concat(chunks)).filter((p) => p.type === 3).length, count)
    }

    it('over TCP, each socket \'data\' chunk of a reader in another process holds whole packets only', async () => {
      // In this process the broker's writes would all land before the reader's next event-loop turn.
      const reader = spawn(process.execPath, ['--import', 'tsx', CHUNK_READER, String(port), 'chunks-tcp', 'chunks/tcp/#'], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(reader)
      const chunks: Buffer[] = []
      createInterface({ input: reader.stdout! }).on('line', (line) => chunks.push(Buffer.from(JSON.parse(line) as number[])))
      const packets = (): Parsed[] => { try { return wholePackets(Buffer.concat(chunks)) } catch { return [] } }
      await waitFor(() => packets().some((p) => p.type === 9), 10_000, 'the reader\'s SUBACK')
      await publishOneByOne('chunks/tcp/m', () => packets().filter((p) => p.type === 3).length)
      assertWhole(chunks)
    })

    it('over WebSocket, each message holds whole packets only', async () => {
      const conn = await open('ws')
      conn.write(rawConnect('chunks-ws'))
      conn.write(subscribe(1, 'chunks/ws/#'))
      await waitFor(() => conn.received().length >= 9, 3000, 'CONNACK and SUBACK')
      const publishes = (): Parsed[] => { try { return wholePackets(conn.received()).filter((p) => p.type === 3) } catch { return [] } }
      let acked = 0
      await publishOneByOne('chunks/ws/m', () => {
        for (const p of publishes().slice(acked)) {
          if (((p.flags >> 1) & 3) === 1) conn.write(frame(0x40, p.body.subarray(p.body.readUInt16BE(0) + 2, p.body.readUInt16BE(0) + 4)))
          acked++
        }
        return acked
      })
      assertWhole(conn.chunks())
    })
  })
})
