import assert from 'node:assert/strict'
import { connect as netConnect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { MqttClient } from 'mqtt'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { api } from '../helpers/http.js'
import { collect, connectClient, waitFor } from '../helpers/mqtt.js'
import { CONNECT, closedWithin, packet, rawPublish, rawTcp, rawWebSocket, type RawConnection } from '../helpers/raw.js'

describe('bad input is refused and everyone else goes on', () => {
  let broker: TestBroker
  let port: number
  let sender: MqttClient
  let receiver: MqttClient
  let seen: ReturnType<typeof collect>
  let n = 0
  const raws: RawConnection[] = []

  /** The witness pair: a message still goes from one ordinary client to another. */
  const stillServing = async (): Promise<void> => {
    const text = `still-serving-${++n}`
    await sender.publishAsync('public/witness', text, { qos: 1 })
    await waitFor(() => seen.some((m) => m.payload === text), 3000, 'the witness message')
  }
  const protocolErrors = async (reason: string): Promise<number> => {
    const metrics = await (await fetch(broker.metricsUrl)).text()
    const line = metrics.split('\n').find((l) => l.startsWith(`mqtt_protocol_errors_total{reason="${reason}"}`))
    return line ? Number(line.split(' ')[1]) : 0
  }
  const open = async (kind: 'tcp' | 'ws'): Promise<RawConnection> => {
    const conn = kind === 'tcp' ? await rawTcp(port) : await rawWebSocket(broker.wsUrl)
    raws.push(conn)
    return conn
  }

  before(async () => {
    broker = await startTestBroker({ ANONYMOUS_NAMESPACE: 'public/#', MAX_PACKET_BYTES: 4096, HTTP_MAX_BODY_BYTES: 2048, HTTP_MAX_HEADER_BYTES: 8192, CONNECT_TIMEOUT_MS: 500 })
    port = broker.server.ports.mqtt
    sender = await connectClient(broker.mqttUrl, { clientId: 'witness-sender' })
    receiver = await connectClient(broker.wsUrl, { clientId: 'witness-receiver' })
    await receiver.subscribeAsync('public/witness', { qos: 1 })
    seen = collect(receiver)
  })
  after(async () => {
    for (const raw of raws) raw.destroy()
    await sender.endAsync(true)
    await receiver.endAsync(true)
    await broker.stop()
  })

  it('closes a TCP connection that sends garbage', async () => {
    const conn = await open('tcp')
    conn.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
    assert.ok(await closedWithin(conn), 'connection closed')
    const noise = await open('tcp')
    noise.write(Buffer.from([0x00, 0xff, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]))
    assert.ok(await closedWithin(noise), 'connection closed')
    await stillServing()
  })

  it('closes a connection whose remaining length is malformed (a fifth length byte)', async () => {
    const conn = await open('tcp')
    conn.write(CONNECT('bad-length'))
    conn.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))
    assert.ok(await closedWithin(conn))
    assert.ok(await protocolErrors('bad-length') >= 1)
    await stillServing()
  })

  for (const kind of ['tcp', 'ws'] as const) {
    it(`closes an oversized packet over ${kind} before buffering it, and counts it`, async () => {
      const before = await protocolErrors('too-large')
      const conn = await open(kind)
      conn.write(CONNECT(`big-${kind}`))
      await waitFor(() => conn.received().length >= 4, 3000, 'CONNACK')
      assert.deepEqual([...conn.received().subarray(0, 4)], [0x20, 0x02, 0x00, 0x00])
      conn.write(rawPublish(Buffer.from('public/big'), Buffer.alloc(10_000, 0x61), 1, 7))
      assert.ok(await closedWithin(conn), 'connection closed')
      assert.equal(await protocolErrors('too-large'), before + 1)
      await stillServing()
    })
  }

  it('closes a connection that announces a 200 MB packet without waiting for its bytes', async () => {
    const conn = await open('tcp')
    conn.write(CONNECT('liar'))
    conn.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x60])) // remaining length 201,326,592
    assert.ok(await closedWithin(conn))
    await stillServing()
  })

  it('closes a WebSocket client whose topic is not valid UTF-8 [MQTT-1.5.3-1]', async () => {
    const before = await protocolErrors('invalid-utf8')
    const conn = await open('ws')
    conn.write(CONNECT('bad-utf8'))
    conn.write(rawPublish(Buffer.from([0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0x2f, 0xc3, 0x28]), Buffer.from('x'), 0))
    assert.ok(await closedWithin(conn))
    assert.equal(await protocolErrors('invalid-utf8'), before + 1)
    await stillServing()
  })

  it('drops a connection that never sends CONNECT', async () => {
    const conn = await open('tcp')
    assert.ok(await closedWithin(conn, 3000), 'closed after CONNECT_TIMEOUT_MS')
  })

  it('answers a huge WebSocket header set with 431 and keeps serving HTTP', async () => {
    const socket = netConnect(broker.server.ports.http, '127.0.0.1')
    const headers = Array.from({ length: 200 }, (_, i) => `X-Pad-${i}: ${'a'.repeat(200)}\r\n`).join('')
    const response = await new Promise<string>((resolve) => {
      let text = ''
      socket.on('data', (d: Buffer) => { text += d.toString() })
      socket.on('close', () => resolve(text))
      socket.on('error', () => resolve(text))
      socket.write(`GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${headers}\r\n`)
    })
    assert.match(response, /^HTTP\/1\.1 431 /)
    assert.match(response, /IM_ERR_BAD_REQUEST/)
    assert.equal((await api(broker.httpUrl, 'GET', '/healthz')).status, 200)
    await stillServing()
  })

  it('answers a WebSocket upgrade on another path with 404', async () => {
    await assert.rejects(rawWebSocket(broker.wsUrl.replace('/mqtt', '/other')), /404/)
  })

  it('answers oversized, non-JSON and unknown HTTP requests with catalogue errors', async () => {
    const big = await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'x', password: 'y'.repeat(4000) })
    assert.equal(big.status, 413)
    assert.equal(big.body.error.code, 'IM_ERR_PAYLOAD_TOO_LARGE')
    const text = await fetch(`${broker.httpUrl}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' })
    assert.equal(text.status, 415)
    assert.equal((await text.json() as { error: { code: string } }).error.code, 'IM_ERR_UNSUPPORTED_MEDIA_TYPE')
    const missing = await api(broker.httpUrl, 'GET', '/api/v1/nothing-here')
    assert.equal(missing.status, 404)
    assert.equal(missing.body.error.code, 'IM_ERR_NOT_FOUND')
    const wrongType = await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 42, password: [] })
    assert.equal(wrongType.status, 400)
    assert.equal(wrongType.body.error.code, 'IM_ERR_BAD_REQUEST')
  })

  it('refuses a second CONNECT on the same connection [MQTT-3.1.0-2]', async () => {
    const conn = await open('tcp')
    conn.write(CONNECT('twice'))
    await waitFor(() => conn.received().length >= 4, 3000, 'CONNACK')
    conn.write(CONNECT('twice'))
    assert.ok(await closedWithin(conn))
    await stillServing()
  })

  it('keeps serving after a burst of malformed connections', async () => {
    const conns = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const conn = await open(i % 2 === 0 ? 'tcp' : 'ws')
      conn.write(i % 3 === 0 ? Buffer.from([0xf0, 0x00]) : packet({ cmd: 'publish', topic: 'public/x', payload: 'no connect first', qos: 0 }))
      return conn
    }))
    for (const conn of conns) assert.ok(await closedWithin(conn))
    await stillServing()
  })
})
