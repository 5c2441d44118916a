/**
 * The broker writes everything for one connection in one event-loop turn as one write, so over
 * WebSocket one frame often carries several MQTT packets (MQTT over WebSocket allows it). Every
 * client stack must read them: shown on a raw socket (frames with several whole packets), and
 * with MQTT.js, the widget's own minimal client and Python paho over WebSocket. [IM-PERF-4]
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import mqttPacket from 'mqtt-packet'
import { WebSocket } from 'ws'
import { MiniMqttTransport, type WebSocketCtor } from '../../shared/client/mini-mqtt/mini-transport.js'
import { startTestBroker, tempDataDir, type TestBroker } from '../helpers/broker.js'
import { adminToken, createUser, type Principal } from '../helpers/http.js'
import { collect, connectClient, waitFor } from '../helpers/mqtt.js'
import { CONNECT, packet } from '../helpers/raw.js'

const BURST = 40
const PAHO = fileURLToPath(new URL('../conformance/paho_ws_burst.py', import.meta.url))

describe('several packets in one WebSocket frame', () => {
  let broker: TestBroker
  let user: Principal
  const aclDir = tempDataDir()
  before(async () => {
    // anonymous clients and users alike may use burst/# (the minimal client always logs in)
    const acl = join(aclDir, 'acl')
    writeFileSync(acl, 'topic readwrite burst/#\nrole user\ntopic readwrite burst/#\n')
    broker = await startTestBroker({ ANONYMOUS_NAMESPACE: 'burst/#', ACL_FILE: acl })
    user = await createUser(broker.httpUrl, await adminToken(broker.httpUrl), 'minnie')
  })
  after(async () => {
    await broker.stop()
    rmSync(aclDir, { recursive: true, force: true })
  })

  /** Publishes BURST QoS 1 messages without waiting between them, so deliveries share turns. */
  const burst = async (topic: string): Promise<string[]> => {
    const publisher = await connectClient(broker.mqttUrl, { clientId: `pub-${topic.replaceAll('/', '-')}` })
    const payloads = Array.from({ length: BURST }, (_, i) => `${topic}#${i + 1}`)
    await Promise.all(payloads.map(async (p) => await publisher.publishAsync(topic, p, { qos: 1 })))
    await publisher.endAsync()
    return payloads
  }

  it('packs whole packets, several to a frame, on a raw WebSocket', async () => {
    const ws = new WebSocket(broker.wsUrl, 'mqtt')
    const frames: Buffer[] = []
    ws.on('message', (data: Buffer) => frames.push(data))
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    ws.send(CONNECT('raw-burst'))
    ws.send(packet({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'burst/raw', qos: 0 }] }))
    await waitFor(() => frames.length >= 2 || (frames.length === 1 && frames[0]!.length > 4), 3000, 'CONNACK and SUBACK')
    const payloads = await burst('burst/raw')
    const packetsIn = (frame: Buffer): mqttPacket.Packet[] => {
      const parser = mqttPacket.parser({ protocolVersion: 4 })
      const out: mqttPacket.Packet[] = []
      let error: Error | undefined
      parser.on('packet', (p) => out.push(p))
      parser.on('error', (e) => { error = e })
      const left = parser.parse(frame)
      assert.equal(left, 0, 'a frame ends on a packet boundary')
      assert.equal(error, undefined)
      return out
    }
    const publishes = () => frames.flatMap(packetsIn).filter((p): p is mqttPacket.IPublishPacket => p.cmd === 'publish')
    await waitFor(() => publishes().length === BURST, 5000, 'every message')
    assert.deepEqual(publishes().map((p) => p.payload.toString()), payloads)
    assert.ok(frames.some((f) => packetsIn(f).length > 1), `some frame carries several packets (frames: ${frames.length} for ${BURST + 2} packets)`)
    ws.terminate()
  })

  it('is read by MQTT.js', async () => {
    const client = await connectClient(broker.wsUrl, { clientId: 'mqttjs-burst' })
    const got = collect(client)
    await client.subscribeAsync('burst/mqttjs', { qos: 1 })
    const payloads = await burst('burst/mqttjs')
    await waitFor(() => got.length === BURST, 5000, 'every message')
    assert.deepEqual(got.map((m) => m.payload), payloads)
    await client.endAsync()
  })

  it('is read by the widget\'s minimal client', async () => {
    const transport = new MiniMqttTransport({ WebSocket: WebSocket as unknown as WebSocketCtor })
    const got: string[] = []
    transport.on('message', (m) => got.push(new TextDecoder().decode(m.payload)))
    await transport.connect(broker.wsUrl, { clientId: 'mini-burst', username: user.uid, password: user.token, clean: true, keepalive: 30, connectTimeoutMs: 5000 })
    assert.equal(await transport.subscribe('burst/mini', 1), 1)
    const payloads = await burst('burst/mini')
    await waitFor(() => got.length === BURST, 5000, 'every message')
    assert.deepEqual(got, payloads)
    await transport.end()
  })

  it('is read by Python paho over WebSocket', async () => {
    const child = spawn('/usr/bin/python3', [PAHO, String(broker.server.ports.http), 'burst/paho', String(BURST)], { stdio: ['ignore', 'pipe', 'pipe'] })
    const lines = createInterface({ input: child.stdout })
    const output: string[] = []
    let ready!: () => void
    const isReady = new Promise<void>((resolve) => { ready = resolve })
    lines.on('line', (line) => { output.push(line); if (line === 'ready') ready() })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    await Promise.race([isReady, exited.then(() => { throw new Error(`paho ended early: ${output.join('\n')}`) })])
    const payloads = await burst('burst/paho')
    assert.equal(await exited, 0, output.join('\n'))
    const result = JSON.parse(output.at(-1)!) as { received: string[] }
    assert.deepEqual(result.received, payloads)
  })
})
