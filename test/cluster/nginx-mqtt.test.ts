/**
 * Plain MQTT through nginx in front of three broker nodes (test/helpers/cluster.ts): what a device
 * relies on must not depend on the node nginx picked. Anonymous clients on the generic namespace
 * (`ANONYMOUS_NAMESPACE=#`), MQTT.js and Debian's mosquitto_pub / mosquitto_sub, all through
 * nginx's MQTT/TCP port: one retained message per topic for the whole cluster; a will published
 * once on every node; a persistent session that comes back on another node gets what was queued
 * for it, once, in order; and the wills of the clients of a node that shuts down.
 *
 * nginx spreads connections round robin (one worker, one rotation over the nodes), so three
 * connections made one after the other land on three different nodes; where each one landed is
 * read from the nodes' `GET /healthz`. The node restart comes last: for 10 s after it nginx may
 * skip the node (`fail_timeout`), which would break the rotation the other cases count on.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it, type TestContext } from 'node:test'
import type { IClientOptions, MqttClient } from 'mqtt'
import { NginxCluster } from '../helpers/cluster.js'
import { mosquittoClientsMissing, mosquittoPub, mosquittoSub, mosquittoTarget, type MosquittoSub } from '../helpers/mosquitto-clients.js'
import { collect, connectClient, openSession, sleep, waitFor, type Received, type Session } from '../helpers/mqtt.js'

/** How long to keep listening after the expected messages, to catch duplicates and strays. */
const SETTLE_MS = 500
const missing = mosquittoClientsMissing()

const payloads = (got: Received[], topic: string): string[] => got.filter((m) => m.topic === topic).map((m) => m.payload)

interface OnNode<T> { client: T, node: number }

describe('MQTT through nginx on three nodes: retained messages, wills, persistent sessions', { skip: missing && `${missing}: this file did NOT run` }, () => {
  let cluster: NginxCluster
  let target: string[]
  const clients: MqttClient[] = []
  const subs: MosquittoSub[] = []
  let probes = 0

  /** An anonymous MQTT.js client through nginx, and the node it landed on. */
  const anon = async (clientId: string, options: IClientOptions = {}): Promise<OnNode<MqttClient>> => await cluster.landing(async () => {
    const client = await connectClient(cluster.lb.mqttUrl, { clientId, ...options })
    clients.push(client)
    return client
  })
  /** Three anonymous clients in a row, so one on each node; each collects what it receives. */
  const onEveryNode = async (prefix: string): Promise<Array<OnNode<MqttClient> & { got: Received[] }>> => {
    const spread = []
    for (const n of [1, 2, 3]) {
      const landed = await anon(`${prefix}-${n}`)
      spread.push({ ...landed, got: collect(landed.client) })
    }
    assert.deepEqual(spread.map((s) => s.node).sort(), [0, 1, 2], `three connections in a row went to nodes ${spread.map((s) => s.node).join(', ')}`)
    return spread
  }
  /** A persistent session through nginx (messages kept from before its CONNACK), and its node. */
  const session = async (clientId: string): Promise<OnNode<Session>> => await cluster.landing(async () => {
    const opened = await openSession(cluster.lb.mqttUrl, { clientId, clean: false })
    clients.push(opened.client)
    return opened
  })
  /** A mosquitto_sub through nginx, once subscribed, and its node. */
  const mosquittoOnNode = async (args: string[]): Promise<OnNode<MosquittoSub>> => await cluster.landing(async () => {
    const sub = mosquittoSub([...target, ...args])
    subs.push(sub)
    await sub.subscribed
    return sub
  })
  /**
   * Makes the next connection through nginx go to another node than `avoid`, and tells which: probe
   * clients connect until the last three went to three different nodes — the rotation — and the
   * node the rotation comes back to next is not `avoid`. (A persistent session itself cannot be
   * the probe: on `avoid` it would be handed its queue there.)
   */
  const steerAwayFrom = async (avoid: number): Promise<number> => {
    const seen: number[] = []
    for (;;) {
      seen.push((await anon(`probe-${++probes}`)).node)
      if (seen.length < 3) continue
      const rotation = seen.slice(-3)
      assert.equal(new Set(rotation).size, 3, `three probes in a row went to nodes ${rotation.join(', ')}`)
      if (rotation[0] !== avoid) return rotation[0]!
    }
  }

  before(async () => {
    cluster = await NginxCluster.start({ dbPrefix: 'nginx_mqtt', env: { ANONYMOUS_NAMESPACE: '#' } })
    target = mosquittoTarget(cluster.lb.mqttUrl)
  })

  after(async () => {
    await Promise.all(subs.map(async (s) => { await s.stop('SIGKILL') }))
    await Promise.all(clients.map(async (c) => { await c.endAsync(true) }))
    await cluster?.stop()
  })

  it('keeps one retained message for the whole cluster: set, replaced and cleared through nginx, read on every node by MQTT.js and mosquitto_sub', async () => {
    const topic = 'lb/retained/status'
    const { client: setter, node: setOn } = await anon('retain-setter')
    await setter.publishAsync(topic, 'v1', { qos: 1, retain: true })

    // a new subscriber on each node gets it, flagged retained [MQTT-3.3.1-8]
    const readers = await onEveryNode('retain-reader')
    for (const r of readers) await r.client.subscribeAsync(topic, { qos: 1 })
    await waitFor(() => readers.every((r) => r.got.length >= 1), 5000, 'the retained message on every node')

    // replaced by mosquitto_pub: the readers get it live, not flagged [MQTT-3.3.1-9]
    const replaced = await mosquittoPub([...target, '-i', 'retain-mosquitto', '-q', '1', '-r', '-t', topic, '-m', 'v2'])
    assert.equal(replaced.code, 0, replaced.stderr)
    await waitFor(() => readers.every((r) => r.got.length >= 2), 5000, 'the replacement on every node')

    // mosquitto_sub on each node gets the replacement, retained
    const late: Array<OnNode<MosquittoSub>> = []
    for (const n of [1, 2, 3]) late.push(await mosquittoOnNode(['-i', `retain-mosq-${n}`, '-q', '1', '-t', topic]))
    assert.deepEqual(late.map((l) => l.node).sort(), [0, 1, 2], `three mosquitto_sub in a row went to nodes ${late.map((l) => l.node).join(', ')}`)
    await waitFor(() => late.every((l) => l.client.messages.length >= 1), 5000, 'the retained replacement at every mosquitto_sub')

    // cleared (an empty retained payload) through another node than the one that set it [MQTT-3.3.1-10]
    const clearer = readers.find((r) => r.node !== setOn)!
    await clearer.client.publishAsync(topic, '', { qos: 1, retain: true })
    await waitFor(() => readers.every((r) => r.got.length >= 3) && late.every((l) => l.client.messages.length >= 2), 5000, 'the empty message on every node')
    const afterClear = await onEveryNode('retain-after-clear')
    for (const r of afterClear) await r.client.subscribeAsync(topic, { qos: 1 })
    await sleep(SETTLE_MS)

    for (const r of readers) {
      assert.deepEqual(r.got, [
        { topic, payload: 'v1', retain: true, qos: 1 },
        { topic, payload: 'v2', retain: false, qos: 1 },
        { topic, payload: '', retain: false, qos: 1 }
      ], `the reader on node ${r.node}`)
    }
    for (const l of late) {
      assert.deepEqual(l.client.messages, [
        { topic, payload: 'v2', retain: true, qos: 1 },
        { topic, payload: '', retain: false, qos: 1 }
      ], `mosquitto_sub on node ${l.node}`)
    }
    for (const r of afterClear) assert.deepEqual(r.got, [], `a subscriber on node ${r.node} after the clear`)
  })

  it('publishes the will of a client whose connection through nginx ends without DISCONNECT, once on every node; none after a DISCONNECT', async () => {
    const watchers = await onEveryNode('will-watcher')
    for (const w of watchers) await w.client.subscribeAsync('lb/wills/#', { qos: 1 })
    const mosquittoWatcher = await mosquittoOnNode(['-i', 'will-watcher-mosq', '-q', '1', '-t', 'lb/wills/#'])
    const will = (topic: string, payload: string, retain = false): IClientOptions => ({ will: { topic, payload: Buffer.from(payload), qos: 1, retain } })

    // MQTT.js: its socket destroyed; mosquitto_sub: killed (-9); both without DISCONNECT
    const dying = await anon('will-mqttjs', will('lb/wills/mqttjs', 'mqttjs gone'))
    dying.client.stream.destroy()
    const killed = await mosquittoOnNode(['-i', 'will-mosq', '-q', '1', '-t', 'lb/quiet',
      '--will-topic', 'lb/wills/mosquitto', '--will-payload', 'mosquitto gone', '--will-qos', '1'])
    await killed.client.stop('SIGKILL')
    // a retained will
    const keeper = await anon('will-retained', will('lb/wills/retained', 'retained gone', true))
    keeper.client.stream.destroy()
    // with a DISCONNECT first: MQTT.js end(), mosquitto_pub after its PUBACK, mosquitto_sub on SIGTERM
    const polite = await anon('will-polite', will('lb/wills/polite', 'should not be published'))
    await polite.client.endAsync()
    const published = await mosquittoPub([...target, '-i', 'will-mosq-pub', '-q', '1', '-t', 'lb/quiet', '-m', 'hi',
      '--will-topic', 'lb/wills/mosquitto-pub', '--will-payload', 'should not be published', '--will-qos', '1'])
    assert.equal(published.code, 0, published.stderr)
    const terminated = await mosquittoOnNode(['-i', 'will-mosq-term', '-q', '1', '-t', 'lb/quiet',
      '--will-topic', 'lb/wills/mosquitto-term', '--will-payload', 'should not be published', '--will-qos', '1'])
    await terminated.client.stop('SIGTERM')

    const everyone = [...watchers.map((w) => ({ node: w.node, got: w.got })), { node: mosquittoWatcher.node, got: mosquittoWatcher.client.messages }]
    await waitFor(() => everyone.every((w) => w.got.length >= 3), 5000, 'three wills at every watcher')
    await sleep(SETTLE_MS)
    const wills = [
      { topic: 'lb/wills/mosquitto', payload: 'mosquitto gone', retain: false, qos: 1 },
      { topic: 'lb/wills/mqttjs', payload: 'mqttjs gone', retain: false, qos: 1 },
      { topic: 'lb/wills/retained', payload: 'retained gone', retain: false, qos: 1 }
    ]
    const byTopic = (a: Received, b: Received): number => a.topic.localeCompare(b.topic)
    for (const w of everyone) assert.deepEqual([...w.got].sort(byTopic), wills, `the wills on node ${w.node}`)

    // the retained will, on another node than the one that published it
    const reader = (await onEveryNode('will-reader')).find((r) => r.node !== keeper.node)!
    await reader.client.subscribeAsync('lb/wills/retained', { qos: 1 })
    await waitFor(() => reader.got.length >= 1, 5000, 'the retained will')
    assert.deepEqual(reader.got, [{ topic: 'lb/wills/retained', payload: 'retained gone', retain: true, qos: 1 }])
    assert.deepEqual(payloads(reader.got, 'lb/wills/polite'), [])
  })

  it('delivers what was queued for an offline persistent session (MQTT.js) once and in order when it comes back through nginx on another node', async (t) => {
    const topic = 'lb/session/mqttjs'
    const first = await session('roamer')
    assert.equal(first.client.sessionPresent, false)
    await first.client.client.subscribeAsync(topic, { qos: 1 })
    await first.client.client.endAsync() // DISCONNECT: a persistent session stays [MQTT-3.1.2-4]

    const queued = await queueFromEveryNode(topic, 'q')
    const next = await steerAwayFrom(first.node)
    const back = await session('roamer')
    t.diagnostic(`the session lived on node ${first.node}; ${queued.length} messages queued through every node; back on node ${back.node}`)
    assert.equal(back.node, next, 'the session came back where the rotation led')
    assert.notEqual(back.node, first.node)
    assert.equal(back.client.sessionPresent, true, 'the other node found the session')
    await waitFor(() => back.client.got.length >= queued.length, 10_000, 'the queued messages')
    await sleep(SETTLE_MS)
    await assertQueueDelivered(t, topic, queued, back.client.got)

    // every PUBACK took its message out of the queue: coming back once more brings nothing again,
    // and the subscription still holds
    await back.client.client.endAsync()
    await sleep(SETTLE_MS)
    const again = await session('roamer')
    const { client: publisher } = await anon('session-live-pub')
    await publisher.publishAsync(topic, 'live', { qos: 1 })
    await waitFor(() => again.client.got.length >= 1, 5000, 'the live message')
    await sleep(SETTLE_MS)
    assert.deepEqual(payloads(again.client.got, topic), ['live'], `on node ${again.node}: nothing delivered twice`)
  })

  it('delivers what was queued for an offline mosquitto_sub -c once and in order when it comes back through nginx on another node', async (t) => {
    const topic = 'lb/session/mosquitto'
    const args = ['-i', 'mosq-roamer', '-c', '-q', '1', '-t', topic]
    const first = await mosquittoOnNode(args)
    assert.equal(await first.client.stop('SIGTERM'), 0, first.client.output()) // a DISCONNECT; -c keeps the session

    const queued = await queueFromEveryNode(topic, 'm')
    const next = await steerAwayFrom(first.node)
    const back = await mosquittoOnNode(args)
    t.diagnostic(`the session lived on node ${first.node}; ${queued.length} messages queued through every node; back on node ${back.node}`)
    assert.equal(back.node, next, 'the session came back where the rotation led')
    await waitFor(() => back.client.messages.length >= queued.length, 10_000, 'the queued messages')
    await sleep(SETTLE_MS)
    await assertQueueDelivered(t, topic, queued, back.client.messages)
  })

  it('publishes the wills of the clients of a node that shuts down (SIGTERM) once, to the subscribers on the other nodes', async (t) => {
    const watchers = await onEveryNode('shutdown-watcher')
    for (const w of watchers) await w.client.subscribeAsync('lb/shutdown/#', { qos: 1 })
    const willers = []
    for (const n of [1, 2, 3]) {
      const topic = `lb/shutdown/will-${n}`
      willers.push({ topic, ...(await anon(`shutdown-will-${n}`, { will: { topic, payload: Buffer.from(`will ${n}`), qos: 1, retain: false } })) })
    }
    const victim = willers[0]!.node
    const onVictim = willers.filter((w) => w.node === victim)
    const survivors = watchers.filter((w) => w.node !== victim)

    const { exit, stoppedInMs } = await cluster.restart(victim)
    t.diagnostic(`node ${victim} restarted: SIGTERM → exit ${String(exit)} after ${stoppedInMs} ms`)
    await waitFor(() => survivors.every((w) => w.got.length >= onVictim.length), 5000, 'the wills of the stopped node\'s clients on the other nodes')
    await sleep(SETTLE_MS)
    const want = onVictim.map((w) => w.topic).sort()
    for (const w of survivors) assert.deepEqual(w.got.map((m) => m.topic).sort(), want, `the wills on node ${w.node}`)
  })

  /**
   * What a session that came back got: each queued message exactly once, and in the order they
   * were published — [MQTT-4.6.0-6]; docs/operations.md: "queues are kept in arrival order".
   */
  async function assertQueueDelivered (t: TestContext, topic: string, queued: Array<{ payload: string, via: string }>, got: Received[]): Promise<void> {
    const via = new Map(queued.map((q) => [q.payload, q.via]))
    t.diagnostic(`published: ${queued.map((q) => `${q.payload}@${q.via}`).join(' ')}`)
    t.diagnostic(`delivered: ${got.map((m) => `${m.payload}@${via.get(m.payload) ?? '?'}`).join(' ')}`)
    assert.ok(got.every((m) => m.topic === topic && m.qos === 1 && !m.retain), JSON.stringify(got))
    assert.deepEqual(got.map((m) => m.payload).sort(), queued.map((q) => q.payload).sort(), 'each queued message exactly once')
    // in arrival order, not grouped by the node that queued each one (broker/persistence/queue-order.ts)
    assert.deepEqual(got.map((m) => m.payload), queued.map((q) => q.payload), 'in the order they were published')
  }

  /**
   * Publishes one message after the other (each after the PUBACK of the one before) to `topic`
   * through publishers on every node and through mosquitto_pub; returns them in that order, each
   * with the way it came in.
   */
  async function queueFromEveryNode (topic: string, prefix: string): Promise<Array<{ payload: string, via: string }>> {
    const publishers = await onEveryNode(`${prefix}-publisher`)
    const sent: Array<{ payload: string, via: string }> = []
    for (let n = 1; n <= 9; n++) {
      const payload = `${prefix}${n}`
      const publisher = publishers[n % 3]!
      await publisher.client.publishAsync(topic, payload, { qos: 1 })
      sent.push({ payload, via: `node${publisher.node}` })
    }
    for (let n = 10; n <= 11; n++) {
      const payload = `${prefix}${n}`
      const published = await mosquittoPub([...target, '-i', `${prefix}-mosquitto-pub`, '-q', '1', '-t', topic, '-m', payload])
      assert.equal(published.code, 0, published.stderr)
      sent.push({ payload, via: 'mosquitto_pub' })
    }
    return sent
  }
})
