/**
 * A takeover keeps the new connection's will. When a client id connects again, aedes stores the
 * new connection's will, then closes the old connection [MQTT-3.1.4-2], which publishes its own
 * will and deletes the stored one as it goes: it used to delete the new connection's will, so
 * should the broker crash, the will was never published (aedes publishes the stored wills of a
 * node that is gone, aedes.js `_clearWills`). The stored will is read back from the broker's
 * persistence (LevelDB; MongoDB under test/backends/).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { MqttClient } from 'mqtt'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { closedByBroker, collect, connectClient, sleep, waitFor } from '../helpers/mqtt.js'

/** How long to keep listening after the expected messages, to catch duplicates and strays. */
const SETTLE_MS = 300

describe('a takeover and the wills', () => {
  let broker: TestBroker
  const clients: MqttClient[] = []
  before(async () => { broker = await startTestBroker({ ANONYMOUS_NAMESPACE: 'wills/#' }) })
  after(async () => {
    await Promise.all(clients.map(async (c) => { await c.endAsync(true) }))
    await broker.stop()
  })

  const storedWill = async (clientId: string): Promise<string | undefined> => {
    // aedes keeps its persistence as `persistence`; its types do not declare it
    const { persistence } = broker.server.aedes as unknown as { persistence: { getWill (client: { id: string }): Promise<{ payload: Buffer } | null | undefined> } }
    const will = await persistence.getWill({ id: clientId })
    return will ? Buffer.from(will.payload).toString() : undefined
  }
  const connectWithWill = async (clientId: string, payload: string): Promise<MqttClient> => {
    const client = await connectClient(broker.mqttUrl, { clientId, clean: false, will: { topic: `wills/${clientId}`, payload: Buffer.from(payload), qos: 1, retain: false } })
    clients.push(client)
    return client
  }

  it('keeps the will of the connection that took the client id over, until that connection closes', async () => {
    const watcher = await connectClient(broker.mqttUrl, { clientId: 'will-watcher' })
    clients.push(watcher)
    await watcher.subscribeAsync('wills/#', { qos: 1 })
    const got = collect(watcher)

    const old = await connectWithWill('taken', 'old')
    assert.equal(await storedWill('taken'), 'old')
    const closed = closedByBroker(old)
    const taker = await connectWithWill('taken', 'new')
    await closed
    // the old connection closed without DISCONNECT: its will is published, and deleted
    await waitFor(() => got.length > 0, 5000, 'the old connection\'s will')
    await sleep(SETTLE_MS)
    assert.deepEqual(got.map((m) => m.payload), ['old'])
    assert.equal(await storedWill('taken'), 'new', 'the new connection\'s will is kept')

    taker.stream.destroy() // the new connection dies: its will is published, then deleted
    await waitFor(() => got.length > 1, 5000, 'the new connection\'s will')
    await waitFor(async () => await storedWill('taken') === undefined, 5000, 'the will deleted')
    await sleep(SETTLE_MS)
    assert.deepEqual(got.map((m) => m.payload), ['old', 'new'])
  })
})
