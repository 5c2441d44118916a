/**
 * CONNACK is the first packet the broker sends [MQTT-3.2.0-1], also to a persistent session that
 * resumes while messages are published to its subscriptions: aedes 1.2 restores the session's
 * subscriptions before it writes the CONNACK (lib/handlers/connect.js), and the transport holds
 * what comes meanwhile until the CONNACK is out (broker/transport/turn-writer.ts). Seen on a raw
 * TCP socket, packet by packet, through mqtt-packet's parser; nothing published is lost.
 */
import assert from 'node:assert/strict'
import { connect as netConnect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { connectClient, sleep, waitFor } from '../helpers/mqtt.js'
import { CONNECT, packet } from '../helpers/raw.js'

const TOPIC = 'order/t'
/** Reconnections while live messages flow: each one gives a live message a chance to overtake the CONNACK. */
const ROUNDS = 12

interface RawSession {
  /** every packet received, in order */
  packets: mqttPacket.Packet[]
  send (p: Record<string, unknown>): void
  /** DISCONNECT, and the socket closed */
  leave (): Promise<void>
  /** the broker closed the connection */
  closed: Promise<unknown>
}

/**
 * A connection of the persistent session `clientId` over a raw socket; QoS 1 answered with PUBACK.
 * It has a will: storing it is one more store round trip before aedes writes the CONNACK.
 */
async function rawSession (port: number, clientId: string, extra: Record<string, unknown> = {}): Promise<RawSession> {
  const socket = netConnect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.on('error', () => undefined)
  const send = (p: Record<string, unknown>): void => { if (socket.writable) socket.write(packet(p)) }
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const packets: mqttPacket.Packet[] = []
  parser.on('packet', (p) => {
    packets.push(p)
    if (p.cmd === 'publish' && p.qos === 1) send({ cmd: 'puback', messageId: p.messageId })
  })
  socket.on('data', (bytes: Buffer) => { parser.parse(bytes) })
  socket.write(CONNECT(clientId, { clean: false, will: { topic: 'order/will', payload: Buffer.from('gone'), qos: 0, retain: false }, ...extra }))
  const closed = new Promise((resolve) => socket.once('close', resolve))
  return {
    packets,
    send,
    closed,
    leave: async () => {
      socket.end(packet({ cmd: 'disconnect' }))
      await closed
    }
  }
}

const payloadsOf = (packets: mqttPacket.Packet[]): string[] => packets.flatMap((p) => p.cmd === 'publish' ? [p.payload.toString()] : [])

describe('CONNACK first [MQTT-3.2.0-1]', () => {
  let broker: TestBroker
  before(async () => { broker = await startTestBroker({ ANONYMOUS_NAMESPACE: 'order/#', QUEUE_MAX_MESSAGES: 100_000 }) })
  after(async () => { await broker.stop() })

  it('is the first packet of a resumed session that has messages queued and gets live ones while it connects', async () => {
    const port = broker.server.ports.mqtt
    const subscriber = await rawSession(port, 'resumer')
    subscriber.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: TOPIC, qos: 1 }] })
    await waitFor(() => subscriber.packets.some((p) => p.cmd === 'suback'), 5000, 'SUBACK')
    await subscriber.leave()

    const publisher = await connectClient(broker.mqttUrl, { clientId: 'order-publisher' })
    const published: string[] = []
    const publishOne = async (): Promise<void> => {
      const payload = `m${published.length + 1}`
      published.push(payload)
      await publisher.publishAsync(TOPIC, payload, { qos: 1 })
    }
    for (let i = 0; i < 5; i++) await publishOne() // queued while the session is offline
    // live messages all along the reconnections, a few at a time
    let live = true
    const flowing = (async () => {
      while (live) await Promise.all(Array.from({ length: 5 }, publishOne))
    })()

    const connections: RawSession[] = []
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const session = await rawSession(port, 'resumer')
        connections.push(session)
        await waitFor(() => session.packets.length > 0, 5000, 'a first packet')
        await sleep(30)
        await session.leave()
      }
    } finally {
      live = false
      await flowing
    }
    // the last connection gets whatever the others left unacknowledged
    const last = await rawSession(port, 'resumer')
    connections.push(last)
    await waitFor(() => last.packets.length > 0, 5000, 'a first packet')
    const received = (): Set<string> => new Set(connections.flatMap((c) => payloadsOf(c.packets)))
    await waitFor(() => published.every((p) => received().has(p)), 10_000, 'every message published').catch((err: Error) => {
      throw new Error(`${err.message}: missing ${JSON.stringify(published.filter((p) => !received().has(p)))}`)
    })
    await last.leave()
    await publisher.endAsync()

    connections.forEach((c, round) => {
      const [first] = c.packets
      assert.equal(first?.cmd, 'connack', `connection ${round + 1}: the first packet is CONNACK, not ${first?.cmd ?? 'nothing'} (${c.packets.slice(0, 4).map((p) => p.cmd).join(', ')}…)`)
      assert.equal(first.returnCode, 0)
      assert.equal(first.sessionPresent, true, `connection ${round + 1}: the session is present [MQTT-3.2.2-2]`)
      assert.equal(c.packets.filter((p) => p.cmd === 'connack').length, 1)
    })
    assert.ok(published.length > 5 + ROUNDS, `live messages flowed (${published.length} published)`)
  })

  it('is a refusing CONNACK, alone, when the CONNECT is refused [MQTT-3.2.2-5]', async () => {
    const refused = await rawSession(broker.server.ports.mqtt, 'refused', { username: 'nobody', password: Buffer.from('wrong password') })
    await refused.closed
    assert.deepEqual(refused.packets.map((p) => p.cmd), ['connack'])
    assert.notEqual((refused.packets[0] as mqttPacket.IConnackPacket).returnCode, 0)
  })
})
