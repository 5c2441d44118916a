/**
 * The PUBACK paths of the offline queue [IM-PERF-1]: a clean session's acknowledgement touches no
 * disk, and a persistent session's acknowledged packets are deleted from memory-known keys in the
 * turn's batch. Either way an acknowledged message must never come again, and a clean session
 * that inherits a persistent session's queue clears it.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import type { MqttClient } from 'mqtt'
import { startTestBroker, tempDataDir, type TestBroker } from '../helpers/broker.js'
import { collect, connectClient, sleep, waitFor } from '../helpers/mqtt.js'

describe('PUBACK paths of the offline queue', () => {
  const dataDir = tempDataDir()
  let broker: TestBroker | undefined
  const clients: MqttClient[] = []
  after(async () => {
    await Promise.all(clients.map(async (c) => { await c.endAsync(true) }))
    await broker?.server.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  const start = async (): Promise<TestBroker> => (broker = await startTestBroker({ ANONYMOUS_NAMESPACE: 'q/#' }, dataDir))
  const client = async (clientId: string, clean: boolean): Promise<{ c: MqttClient, got: ReturnType<typeof collect> }> => {
    const b = broker!
    const c = await connectClient(b.mqttUrl, { clientId, clean })
    clients.push(c)
    return { c, got: collect(c) }
  }
  const publish = async (topic: string, n: number, prefix: string): Promise<void> => {
    const p = await client(`pub-${prefix}`, true)
    for (let i = 1; i <= n; i++) await p.c.publishAsync(topic, `${prefix}-${i}`, { qos: 1 })
    await p.c.endAsync()
  }

  it('relays QoS 1 to clean sessions with every PUBACK taken, and nothing comes again', async () => {
    await start()
    const sub = await client('clean-sub', true)
    await sub.c.subscribeAsync('q/clean', { qos: 1 })
    await publish('q/clean', 50, 'clean')
    await waitFor(() => sub.got.length === 50, 5000, '50 messages')
    await sleep(100) // nothing more arrives: every PUBACK was taken
    assert.deepEqual(sub.got.map((m) => m.payload), Array.from({ length: 50 }, (_, i) => `clean-${i + 1}`))
  })

  it('discards, for good, the queue a persistent session left when its client id comes back clean [MQTT-3.1.2-6]', async () => {
    const first = await client('inherit-1', false)
    await first.c.subscribeAsync('q/inherit', { qos: 1 })
    await first.c.endAsync()
    await publish('q/inherit', 3, 'kept')
    const clean = await client('inherit-1', true)
    await sleep(300)
    assert.deepEqual(clean.got, [], 'a clean session starts empty')
    await clean.c.endAsync()
    const again = await client('inherit-1', false)
    await again.c.subscribeAsync('q/inherit', { qos: 1 })
    await publish('q/inherit', 1, 'new')
    await waitFor(() => again.got.length >= 1, 5000, 'the new message')
    await sleep(100)
    assert.deepEqual(again.got.map((m) => m.payload), ['new-1'], 'the discarded queue is gone from the store')
    await again.c.endAsync()
  })

  it('never delivers a persistent session\'s acknowledged message again, also after a restart', async () => {
    const sub = await client('durable-1', false)
    await sub.c.subscribeAsync('q/durable', { qos: 1 })
    await publish('q/durable', 20, 'live')
    await waitFor(() => sub.got.length === 20, 5000, '20 messages')
    await sub.c.endAsync()
    await publish('q/durable', 5, 'offline')
    const back = await client('durable-1', false)
    await waitFor(() => back.got.length === 5, 5000, 'the 5 queued while away')
    assert.deepEqual(back.got.map((m) => m.payload), ['offline-1', 'offline-2', 'offline-3', 'offline-4', 'offline-5'])
    await back.c.endAsync()

    await broker!.server.close()
    await start()
    const afterRestart = await client('durable-1', false)
    await sleep(300)
    assert.deepEqual(afterRestart.got, [], 'nothing acknowledged comes back after a restart')
    await publish('q/durable', 1, 'after')
    await waitFor(() => afterRestart.got.length === 1, 5000, 'the subscription survived')
  })
})
