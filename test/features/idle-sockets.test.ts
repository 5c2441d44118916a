/**
 * Sockets that never send CONNECT cannot lock others out [IM-LIMIT-3]. The broker runs with an
 * open-file limit of 256 (`ulimit -n`, as a small server or container has it); floods of more idle
 * sockets than that — from one address, and from twenty — leave room for others: a new MQTT
 * client connects and HTTP answers, from another address and from the flooding one.
 */
import assert from 'node:assert/strict'
import { get } from 'node:http'
import { connect as netConnect, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { MqttClient } from 'mqtt'
import { spawnBroker, tempDataDir, type SpawnedBroker } from '../helpers/broker.js'
import { cleanUpOnExit } from '../helpers/exit-guard.js'
import { NO_RECONNECT } from '../helpers/mqtt.js'

const FILE_LIMIT = 256
const PER_IP = 16

/** Opens `count` sockets from `localAddress` that send nothing; resolves once each is open or refused. */
async function idleSockets (port: number, localAddress: string, count: number): Promise<Socket[]> {
  return await Promise.all(Array.from({ length: count }, async () => await new Promise<Socket>((resolve) => {
    const socket = netConnect({ port, host: '127.0.0.1', localAddress })
    socket.on('error', () => resolve(socket))
    socket.on('connect', () => resolve(socket))
  })))
}

/** An MQTT.js client over a TCP connection from `localAddress`; resolves with its CONNACK's return code. */
async function mqttFrom (port: number, localAddress: string, clientId: string): Promise<number> {
  const client = new MqttClient(() => netConnect({ port, host: '127.0.0.1', localAddress }), { ...NO_RECONNECT, clientId, protocolVersion: 4 })
  try {
    return await new Promise<number>((resolve, reject) => {
      client.once('connect', (connack) => resolve(connack.returnCode ?? 0))
      client.once('error', reject)
      client.once('close', () => reject(new Error(`${clientId}: closed before CONNACK`)))
    })
  } finally {
    await client.endAsync(true)
  }
}

async function healthFrom (port: number, localAddress: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/healthz', localAddress }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject)
  })
}

async function pendingGauge (broker: SpawnedBroker): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.ports.metrics}/metrics`)).text()
  return Number(/^mqtt_connections_pending (\d+)/m.exec(text)?.[1] ?? NaN)
}

describe(`idle sockets cannot exhaust the broker (open-file limit ${FILE_LIMIT})`, () => {
  let broker: SpawnedBroker
  const sockets: Socket[] = []
  const forget = cleanUpOnExit(() => { broker?.child.kill('SIGKILL') })

  before(async () => {
    broker = await spawnBroker({ DATA_DIR: tempDataDir(), ANONYMOUS_NAMESPACE: 'public/#', MAX_PENDING_CONNECTS_PER_IP: String(PER_IP), CONNECTS_PER_IP_PER_MINUTE: '100000' }, undefined, { fileLimit: FILE_LIMIT })
  })
  after(async () => {
    for (const socket of sockets) socket.destroy()
    await broker.kill('SIGKILL')
    forget()
  })

  it('from one address: 400 idle sockets, then others connect — from another address and from that one', async () => {
    sockets.push(...await idleSockets(broker.ports.mqtt, '127.0.0.1', 400))
    assert.equal(await mqttFrom(broker.ports.mqtt, '127.0.0.2', 'other-address'), 0)
    assert.equal(await mqttFrom(broker.ports.mqtt, '127.0.0.1', 'same-address'), 0)
    assert.equal(await healthFrom(broker.ports.http, '127.0.0.2'), 200)
    assert.ok(await pendingGauge(broker) <= PER_IP, 'no more than the per-address ceiling wait for their CONNECT')
  })

  it('from twenty addresses: 30 idle sockets each (600), then a new client connects', async () => {
    for (let i = 0; i < 20; i++) sockets.push(...await idleSockets(broker.ports.mqtt, `127.0.1.${i + 1}`, 30))
    assert.equal(await mqttFrom(broker.ports.mqtt, '127.0.2.1', 'after-the-flood'), 0)
    assert.equal(await healthFrom(broker.ports.http, '127.0.2.1'), 200)
    // a quarter of the open-file limit, at most, wait for their CONNECT
    assert.ok(await pendingGauge(broker) <= FILE_LIMIT / 4)
  })

  it('counts the connections it closed to make room', async () => {
    const text = await (await fetch(`http://127.0.0.1:${broker.ports.metrics}/metrics`)).text()
    const count = (limit: string): number => Number(new RegExp(`^mqtt_limit_refusals_total\\{limit="${limit}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
    assert.ok(count('pending-connects-per-ip') >= 400 - PER_IP, `per-address evictions: ${count('pending-connects-per-ip')}`)
    assert.ok(count('pending-connects') > 0, 'evictions to keep the total')
  })
})
