/**
 * The write side of a guarded connection (broker/transport/turn-writer.ts): CONNACK goes first
 * [MQTT-3.2.0-1], whatever aedes wrote before it; and the callbacks wait while the connection
 * pushes back. Packets are written as aedes writes them, with mqtt-packet's `writeToStream`.
 */
import assert from 'node:assert/strict'
import { Duplex, Writable } from 'node:stream'
import { describe, it } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { TurnWriter } from '../../../broker/transport/turn-writer.js'

/** A raw connection that records each write; `full` makes it push back (write() answers false). */
function recorder (): { raw: Duplex, writes: Buffer[], full: { on: boolean } } {
  const writes: Buffer[] = []
  const full = { on: false }
  const raw = new Duplex({ read () {}, write (chunk: Buffer, _enc, cb) { writes.push(chunk); cb() } })
  const write = raw.write.bind(raw) as (chunk: Buffer) => boolean
  raw.write = ((chunk: Buffer) => write(chunk) && !full.on) as typeof raw.write
  return { raw, writes, full }
}

/** The stream aedes writes to (the guarded connection's writable side), onto `writer`. */
function aedesSide (writer: TurnWriter): Writable {
  return new Writable({
    write (chunk: Buffer, _enc, cb) { writer.write([chunk], cb) },
    writev (chunks, cb) { writer.write(chunks.map(({ chunk }) => chunk as Buffer), cb) }
  })
}

const publish = (n: number): mqttPacket.IPublishPacket =>
  ({ cmd: 'publish', topic: `t/${n}`, payload: Buffer.from(`m${n}`), qos: 1, messageId: n, retain: false, dup: false })
const connack = (returnCode: number, sessionPresent = false): mqttPacket.IConnackPacket => ({ cmd: 'connack', returnCode, sessionPresent })
const bytesOf = (...packets: mqttPacket.Packet[]): Buffer => Buffer.concat(packets.map((p) => mqttPacket.generate(p)))
/** The end of this event-loop turn and of the next: a flush has happened. */
const nextTurn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)); await new Promise((resolve) => setImmediate(resolve)) }

describe('the turn writer, before and after the CONNACK', () => {
  it('holds what aedes writes before its CONNACK and sends it right after, in order [MQTT-3.2.0-1]', async () => {
    const { raw, writes } = recorder()
    const out = aedesSide(new TurnWriter(raw))
    const answered: number[] = []
    // aedes delivers live messages to a restored subscription before it writes the CONNACK
    mqttPacket.writeToStream(publish(1), out)
    out.write(Buffer.alloc(0), () => answered.push(1))
    await nextTurn()
    mqttPacket.writeToStream(publish(2), out)
    await nextTurn()
    assert.deepEqual(writes, [], 'nothing goes before the CONNACK')
    assert.deepEqual(answered, [1], 'the callbacks of held bytes are answered: the CONNACK must get through')
    // the CONNACK, and a message of the same turn
    mqttPacket.writeToStream(connack(0, true), out)
    mqttPacket.writeToStream(publish(3), out)
    await nextTurn()
    mqttPacket.writeToStream(publish(4), out)
    await nextTurn()
    assert.deepEqual(writes, [bytesOf(connack(0, true), publish(1), publish(2), publish(3)), bytesOf(publish(4))])
  })

  it('sets Session Present on a CONNACK that comes after held packets, when the session records know the session [MQTT-3.2.2-2]', async () => {
    const { raw, writes } = recorder()
    const writer = new TurnWriter(raw)
    writer.markSessionPresent()
    const out = aedesSide(writer)
    mqttPacket.writeToStream(publish(1), out)
    await nextTurn()
    mqttPacket.writeToStream(connack(0), out)
    await nextTurn()
    assert.deepEqual(writes, [bytesOf(connack(0, true), publish(1))])
  })

  it('sends a refusing CONNACK alone: what was held is dropped, and nothing follows [MQTT-3.2.2-5]', async () => {
    const { raw, writes } = recorder()
    const writer = new TurnWriter(raw)
    writer.markSessionPresent() // [MQTT-3.2.2-4] never on a refusal
    const out = aedesSide(writer)
    mqttPacket.writeToStream(publish(1), out)
    await nextTurn()
    mqttPacket.writeToStream(connack(5), out)
    mqttPacket.writeToStream(publish(2), out)
    await nextTurn()
    mqttPacket.writeToStream(publish(3), out)
    await nextTurn()
    assert.deepEqual(writes, [bytesOf(connack(5))])
  })

  it('sends the refusing CONNACK aedes writes as it closes the connection, and what was held not at all', async () => {
    const { raw, writes } = recorder()
    const writer = new TurnWriter(raw)
    const out = aedesSide(writer)
    mqttPacket.writeToStream(publish(1), out)
    await nextTurn()
    mqttPacket.writeToStream(connack(4), out)
    await new Promise((resolve) => process.nextTick(resolve)) // mqtt-packet uncorks on the next tick
    writer.close(null)
    await new Promise((resolve) => raw.once('close', resolve))
    assert.deepEqual(writes, [bytesOf(connack(4))])
  })

  it('sends nothing of what was held when the connection closes or ends without a CONNACK', async () => {
    for (const finish of ['close', 'end'] as const) {
      const { raw, writes } = recorder()
      const writer = new TurnWriter(raw)
      mqttPacket.writeToStream(publish(1), aedesSide(writer))
      await nextTurn()
      mqttPacket.writeToStream(publish(2), aedesSide(writer))
      if (finish === 'close') writer.close(null)
      else writer.end()
      await nextTurn()
      assert.deepEqual(writes, [], finish)
    }
  })

  it('holds the callbacks while the connection pushes back, from the write that carries the CONNACK on', async () => {
    const { raw, writes, full } = recorder()
    const out = aedesSide(new TurnWriter(raw))
    mqttPacket.writeToStream(publish(1), out)
    await nextTurn()
    full.on = true
    mqttPacket.writeToStream(connack(0), out)
    await nextTurn()
    assert.deepEqual(writes, [bytesOf(connack(0), publish(1))])
    let answered = false
    out.write(mqttPacket.generate(publish(2)), () => { answered = true })
    await nextTurn()
    assert.equal(answered, false, 'held until the connection drains')
    full.on = false
    raw.emit('drain')
    await nextTurn()
    assert.equal(answered, true)
    assert.deepEqual(writes.slice(1), [bytesOf(publish(2))])
  })
})
