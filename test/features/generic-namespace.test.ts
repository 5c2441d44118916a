/**
 * The generic MQTT namespace (every topic outside `im/`). With ANONYMOUS_NAMESPACE='#' anonymous
 * clients may use all of it, and the broker must then behave as a conformant MQTT 3.1.1 broker:
 * retained messages, wills, QoS 0/1/2, overlapping subscriptions, `$` topics, client ids and
 * malformed input — proven with MQTT.js, raw bytes, Debian's paho-mqtt and mosquitto_pub/_sub.
 * The IM namespace stays closed to them. (The Mosquitto-like ACL file: generic-acl-file.test.ts.)
 */
import assert from 'node:assert/strict'
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { after, before, describe, it, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { IClientOptions, MqttClient } from 'mqtt'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { closedByBroker, collect, connackCode, connectClient, subscribeCodes, waitFor, type Received } from '../helpers/mqtt.js'
import { busSpy, serverPublish } from '../helpers/bus.js'
import { closedWithin, frame, mqttString, rawPublish, rawTcp, u16, type RawConnection } from '../helpers/raw.js'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3'
const PAHO_SCRIPT = fileURLToPath(new URL('../conformance/paho_conformance.py', import.meta.url))
const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub'
const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub'

// ---- raw MQTT 3.1.1 bytes, for packets MQTT.js and mqtt-packet refuse to produce ----

/** CONNECT, protocol level 4, no credentials; `will.qos` is written as given, even 3. */
function rawConnect ({ clientId, clean = true, will }: { clientId: string, clean?: boolean, will?: { topic: string, payload: string, qos: number } }): Buffer {
  const flags = (clean ? 0x02 : 0) | (will ? 0x04 | (will.qos << 3) : 0)
  return frame(0x10, mqttString('MQTT'), Buffer.from([4, flags]), u16(30), mqttString(clientId), ...(will ? [mqttString(will.topic), mqttString(will.payload)] : []))
}
const rawSubscribe = (packetId: number, filter: string, qos: number): Buffer => frame(0x82, u16(packetId), mqttString(filter), Buffer.from([qos]))
const PINGREQ = Buffer.from([0xc0, 0x00])
const DISCONNECT = Buffer.from([0xe0, 0x00])
const CONNACK = (code: number): number[] => [0x20, 0x02, 0x00, code]

async function bytes (conn: RawConnection, n: number, what: string): Promise<number[]> {
  await waitFor(() => conn.received().length >= n || conn.isClosed(), 3000, what)
  return [...conn.received().subarray(0, n)]
}

// ---- helpers around one broker ----

/** Resolves when aedes has let go of `clientId` (its will, if any, is then on its way). */
function released (broker: TestBroker, clientId: string, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { broker.server.aedes.off('clientDisconnect', onGone); reject(new Error(`${clientId} was not released`)) }, timeoutMs)
    const onGone = (client: { id: string }): void => {
      if (client.id !== clientId) return
      clearTimeout(timer)
      broker.server.aedes.off('clientDisconnect', onGone)
      resolve()
    }
    broker.server.aedes.on('clientDisconnect', onGone)
  })
}

const payloads = (got: Received[], topic: string): Received[] => got.filter((m) => m.topic === topic)

function skipLoudly (t: TestContext, message: string): void {
  console.warn(`\n*** SKIPPED: ${message} ***\n`)
  t.skip(message)
}

function pahoMissing (): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing, so python3-paho-mqtt cannot run (apt-get install python3-paho-mqtt)`
  const probe = spawnSync(PYTHON, ['-c', 'import paho.mqtt.client'], { encoding: 'utf8', timeout: 10_000 })
  return probe.status === 0 ? null : `python3-paho-mqtt is missing for ${PYTHON} (apt-get install python3-paho-mqtt): ${probe.stderr.trim()}`
}

describe('anonymous clients in the generic namespace (ANONYMOUS_NAMESPACE=#) get a conformant MQTT 3.1.1 broker', () => {
  let broker: TestBroker
  let port: number
  const clients: MqttClient[] = []
  const raws: RawConnection[] = []
  const children: ChildProcess[] = []
  let seq = 0

  const anon = async (options: IClientOptions = {}): Promise<MqttClient> => {
    const client = await connectClient(broker.mqttUrl, { clientId: `anon-${++seq}`, ...options })
    clients.push(client)
    return client
  }
  const raw = async (): Promise<RawConnection> => {
    const conn = await rawTcp(port)
    raws.push(conn)
    return conn
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

  describe('retained messages', () => {
    it('reach a later subscriber with the retain flag set, and a live subscriber without it [MQTT-3.3.1-6, -9]', async () => {
      const live = await anon()
      await live.subscribeAsync('retained/basic', { qos: 1 })
      const gotLive = collect(live)
      const pub = await anon()
      await pub.publishAsync('retained/basic', 'kept', { qos: 1, retain: true })
      await waitFor(() => gotLive.length > 0, 3000, 'the live copy')
      assert.deepEqual(gotLive, [{ topic: 'retained/basic', payload: 'kept', retain: false, qos: 1 }])

      const late = await anon()
      const gotLate = collect(late)
      await late.subscribeAsync('retained/basic', { qos: 1 })
      await waitFor(() => gotLate.length > 0, 3000, 'the retained copy')
      assert.deepEqual(gotLate, [{ topic: 'retained/basic', payload: 'kept', retain: true, qos: 1 }])
    })

    it('are replaced by a newer retained message and cleared by an empty retained payload [MQTT-3.3.1-5, -10, -11]', async () => {
      const pub = await anon()
      // QoS 2: aedes answers PUBREC only once the message is stored and routed (it sends a QoS 1
      // PUBACK first), so a SUBSCRIBE after PUBCOMP finds it retained, not in flight.
      await pub.publishAsync('retained/replace', 'first', { qos: 2, retain: true })
      await pub.publishAsync('retained/replace', 'second', { qos: 2, retain: true })
      await pub.publishAsync('retained/sentinel', 'still-here', { qos: 2, retain: true })

      const reader = await anon()
      const got = collect(reader)
      await reader.subscribeAsync('retained/replace', { qos: 1 })
      await waitFor(() => got.length > 0, 3000, 'the retained message')
      assert.deepEqual(got, [{ topic: 'retained/replace', payload: 'second', retain: true, qos: 1 }])

      await pub.publishAsync('retained/replace', '', { qos: 2, retain: true })
      const after = await anon()
      const gotAfter = collect(after)
      // One SUBSCRIBE for both: the sentinel proves the retained messages were looked up and sent.
      await after.subscribeAsync({ 'retained/replace': { qos: 1 }, 'retained/sentinel': { qos: 1 } })
      await waitFor(() => gotAfter.some((m) => m.topic === 'retained/sentinel'), 3000, 'the sentinel')
      await pub.publishAsync('retained/replace', 'live-after-clear', { qos: 1 })
      await waitFor(() => gotAfter.some((m) => m.payload === 'live-after-clear'), 3000, 'the live message')
      assert.deepEqual(payloads(gotAfter, 'retained/replace'), [{ topic: 'retained/replace', payload: 'live-after-clear', retain: false, qos: 1 }])
    })

    it('are all delivered to a wildcard subscriber that matches them, and only those', async () => {
      const pub = await anon()
      for (const topic of ['wild/a/1', 'wild/b/1', 'wild/a/2/deep', 'wildly/a/1']) {
        await pub.publishAsync(topic, `r:${topic}`, { qos: 2, retain: true }) // QoS 2: stored once PUBCOMP is back
      }
      const plus = await anon()
      const gotPlus = collect(plus)
      await plus.subscribeAsync('wild/+/1', { qos: 1 })
      const hash = await anon()
      const gotHash = collect(hash)
      await hash.subscribeAsync('wild/#', { qos: 0 })
      await waitFor(() => gotPlus.length >= 2 && gotHash.length >= 3, 3000, 'the retained messages')
      await pub.publishAsync('wild/z/1', 'live', { qos: 1 })
      await waitFor(() => gotPlus.some((m) => m.payload === 'live') && gotHash.some((m) => m.payload === 'live'), 3000, 'the live message')

      const retained = (got: Received[]): string[] => got.filter((m) => m.retain).map((m) => m.topic).sort()
      assert.deepEqual(retained(gotPlus), ['wild/a/1', 'wild/b/1'])
      assert.deepEqual(retained(gotHash), ['wild/a/1', 'wild/a/2/deep', 'wild/b/1'])
      assert.ok(gotPlus.filter((m) => m.retain).every((m) => m.qos === 1))
      assert.ok(gotHash.every((m) => m.qos === 0), 'a QoS 0 subscription gets the retained QoS 2 messages at QoS 0 [MQTT-3.8.4-6]')
    })
  })

  describe('wills', () => {
    it('publishes the will of a client whose connection dies without DISCONNECT [MQTT-3.1.2-8]', async () => {
      const watcher = await anon()
      await watcher.subscribeAsync('will/#', { qos: 1 })
      const got = collect(watcher)
      const dying = await anon({ clientId: 'will-dies', will: { topic: 'will/dies', payload: Buffer.from('gone'), qos: 1, retain: true } })
      dying.stream.destroy()
      await waitFor(() => got.some((m) => m.topic === 'will/dies'), 3000, 'the will')
      assert.deepEqual(payloads(got, 'will/dies'), [{ topic: 'will/dies', payload: 'gone', retain: false, qos: 1 }])

      // a retained will is kept for later subscribers like any retained message [MQTT-3.1.2-17]
      const late = await anon()
      const gotLate = collect(late)
      await late.subscribeAsync('will/dies', { qos: 1 })
      await waitFor(() => gotLate.length > 0, 3000, 'the retained will')
      assert.deepEqual(gotLate, [{ topic: 'will/dies', payload: 'gone', retain: true, qos: 1 }])
    })

    it('does not publish the will after a clean DISCONNECT [MQTT-3.1.2-10]', async () => {
      const watcher = await anon()
      await watcher.subscribeAsync('polite/#', { qos: 1 })
      const got = collect(watcher)
      const polite = await anon({ clientId: 'will-polite', will: { topic: 'polite/will', payload: Buffer.from('should-not-appear'), qos: 1, retain: false } })
      const gone = released(broker, 'will-polite')
      await polite.endAsync()
      await gone
      const control = await anon()
      await control.publishAsync('polite/control', 'after-disconnect', { qos: 1 })
      await waitFor(() => got.some((m) => m.topic === 'polite/control'), 3000, 'the control message')
      assert.deepEqual(got.map((m) => m.topic), ['polite/control'])
    })
  })

  describe('QoS', () => {
    it('round-trips QoS 0, 1 and 2 and delivers at min(publish QoS, granted QoS), on exact and wildcard filters [MQTT-3.8.4-6]', async () => {
      const sub = await anon()
      const filters = { 'qos/exact/0': { qos: 0 }, 'qos/exact/1': { qos: 1 }, 'qos/exact/2': { qos: 2 }, 'qos/plus/0/+': { qos: 0 }, 'qos/plus/1/+': { qos: 1 }, 'qos/hash/2/#': { qos: 2 }, 'qos/hash/1/#': { qos: 1 } } as const
      const granted = await sub.subscribeAsync(filters)
      assert.deepEqual(granted.map((g) => [g.topic, g.qos]), Object.entries(filters).map(([topic, { qos }]) => [topic, qos]), 'granted as requested [MQTT-3.9.3-2]')
      const got = collect(sub)
      const pub = await anon()
      const topicFor = { 'qos/exact/0': 'qos/exact/0', 'qos/exact/1': 'qos/exact/1', 'qos/exact/2': 'qos/exact/2', 'qos/plus/0/+': 'qos/plus/0/x', 'qos/plus/1/+': 'qos/plus/1/x', 'qos/hash/2/#': 'qos/hash/2/x/y', 'qos/hash/1/#': 'qos/hash/1/x/y' }
      const expected: Array<{ payload: string, qos: number }> = []
      for (const [filter, { qos: grantedQos }] of Object.entries(filters)) {
        for (const qos of [0, 1, 2] as const) {
          const payload = `${filter} p${qos}`
          // publishAsync settles on PUBACK (QoS 1) or PUBCOMP (QoS 2): the publish flow completed.
          await pub.publishAsync(topicFor[filter as keyof typeof topicFor], payload, { qos })
          expected.push({ payload, qos: Math.min(qos, grantedQos) })
        }
      }
      await waitFor(() => expected.every((e) => got.some((m) => m.payload === e.payload)), 5000, 'all 21 messages')
      for (const { payload, qos } of expected) {
        const copies = got.filter((m) => m.payload === payload)
        assert.ok(copies.every((m) => m.qos === qos), `${payload}: delivered at QoS ${copies.map((m) => m.qos).join(',')}, expected ${qos}`)
        if (qos !== 1) assert.equal(copies.length, 1, `${payload}: QoS 0 at most once, QoS 2 exactly once`)
      }
    })

    it('delivers a message matching overlapping subscriptions once or twice, at the granted QoS [MQTT-3.3.5-1]', async () => {
      const sub = await anon()
      const granted = await sub.subscribeAsync({ 'TopicA/+': { qos: 1 }, 'TopicA/#': { qos: 2 }, 'overlap/control': { qos: 1 } })
      assert.deepEqual(granted.map((g) => g.qos), [1, 2, 1])
      const got = collect(sub)
      const pub = await anon()
      await pub.publishAsync('TopicA/B', 'overlap-q2', { qos: 2 })
      await pub.publishAsync('TopicA/B', 'overlap-q1', { qos: 1 })
      await pub.publishAsync('overlap/control', 'control', { qos: 1 })
      await waitFor(() => got.some((m) => m.payload === 'control'), 3000, 'the control message')

      const q2 = got.filter((m) => m.payload === 'overlap-q2')
      assert.ok(q2.length >= 1 && q2.length <= 2, `QoS 2 message delivered ${q2.length} times`)
      // once: at the highest QoS granted among the matching filters; twice: once per filter's QoS
      if (q2.length === 1) assert.equal(q2[0]?.qos, 2)
      else assert.deepEqual(q2.map((m) => m.qos).sort(), [1, 2])
      const q1 = got.filter((m) => m.payload === 'overlap-q1')
      assert.ok(q1.length >= 1 && q1.length <= 2, `QoS 1 message delivered ${q1.length} times`)
      assert.ok(q1.every((m) => m.qos === 1))
    })
  })

  describe('$ topics', () => {
    it('are not matched by filters that start with a wildcard [MQTT-4.7.2-1], though aedes publishes them', async () => {
      const sharp = await anon()
      const got = collect(sharp)
      // The generic rule `#` does not cover `$` topics either, so `$SYS/#` is refused to anonymous clients.
      assert.deepEqual(await subscribeCodes(sharp, ['#', '+/+/new/subscribes', '+/bar', '$SYS/#'], 1), [1, 1, 1, 128])
      const sys = await busSpy(broker, '$SYS/+/new/subscribes')
      try {
        const other = await anon()
        await other.subscribeAsync('dollar/anything', { qos: 0 }) // aedes publishes $SYS/<id>/new/subscribes
        await waitFor(() => sys.topics.length > 0, 3000, 'aedes\' $SYS message')
      } finally {
        await sys.stop()
      }
      await serverPublish(broker, `$SYS/${broker.server.aedes.id}/heartbeat`, 'beat', { qos: 0 })
      await serverPublish(broker, '$foo/bar', 'dollar', { qos: 1 })
      await serverPublish(broker, 'plain/bar', 'control', { qos: 1 })
      await waitFor(() => got.some((m) => m.topic === 'plain/bar'), 3000, 'the control message')
      assert.deepEqual(got.filter((m) => m.topic.startsWith('$')), [])
    })

    it('are open to anonymous clients, like every other topic outside im/: publish and subscribe $foo/bar, $foo/# [MQTT-4.7.2-1]', async () => {
      const dollar = await anon()
      const got = collect(dollar)
      assert.deepEqual(await subscribeCodes(dollar, ['$foo/#', '$foo/bar', '$other/+/x'], 1), [1, 1, 1])
      const sharp = await anon()
      const gotSharp = collect(sharp)
      assert.deepEqual(await subscribeCodes(sharp, ['#'], 1), [1])
      const pub = await anon()
      await pub.publishAsync('$foo/bar', 'dollar', { qos: 1, retain: true })
      await pub.publishAsync('$other/y/x', 'other', { qos: 0 })
      await pub.publishAsync('plain/dollar-control', 'control', { qos: 1 })
      await waitFor(() => got.some((m) => m.topic === '$other/y/x') && gotSharp.some((m) => m.topic === 'plain/dollar-control'), 3000, 'the messages')
      assert.ok(got.some((m) => m.topic === '$foo/bar' && m.payload === 'dollar' && m.qos === 1))
      assert.ok(pub.connected && dollar.connected)
      assert.deepEqual(gotSharp.filter((m) => m.topic.startsWith('$')), [], 'a subscription to # still receives no $ topic')
      // the retained $ message reaches a later subscriber
      const late = await anon()
      const gotLate = collect(late)
      await late.subscribeAsync('$foo/+', { qos: 1 })
      await waitFor(() => gotLate.length > 0, 3000, 'the retained $ message')
      assert.deepEqual(gotLate, [{ topic: '$foo/bar', payload: 'dollar', retain: true, qos: 1 }])
    })

    it('reach no # or +/… subscriber as retained messages either, only a filter that names them [MQTT-4.7.2-1]', async () => {
      const pub = await anon()
      await pub.publishAsync('$kept/x', 'dollar-retained', { qos: 2, retain: true }) // QoS 2: stored once PUBCOMP is back
      await pub.publishAsync('kept/x', 'plain-retained', { qos: 2, retain: true })
      const wild = await anon()
      const gotWild = collect(wild)
      await wild.subscribeAsync({ '#': { qos: 1 }, '+/x': { qos: 1 } })
      const named = await anon()
      const gotNamed = collect(named)
      await named.subscribeAsync({ '$kept/#': { qos: 1 }, 'kept/#': { qos: 1 } })
      await waitFor(() => gotNamed.length >= 2 && gotWild.filter((m) => m.topic === 'kept/x').length >= 2, 3000, 'the retained messages')
      assert.deepEqual(gotNamed.map((m) => m.topic).sort(), ['$kept/x', 'kept/x'])
      assert.deepEqual(gotWild.filter((m) => m.topic.startsWith('$')), [])
    })

    it('are not queued for a persistent session through # [MQTT-4.7.2-1]', async () => {
      const offline = await anon({ clientId: 'dollar-offline', clean: false })
      await offline.subscribeAsync({ '#': { qos: 1 }, '$named/#': { qos: 1 } })
      const gone = released(broker, 'dollar-offline')
      await offline.endAsync()
      await gone
      const pub = await anon()
      await pub.publishAsync('$queued/x', 'not-for-#', { qos: 1 })
      await pub.publishAsync('$named/x', 'for-$named', { qos: 1 })
      await pub.publishAsync('queued/x', 'control', { qos: 1 })
      const back = await anon({ clientId: 'dollar-offline', clean: false })
      const got = collect(back)
      await waitFor(() => got.some((m) => m.payload === 'control'), 3000, 'the queued control message')
      assert.deepEqual(got.filter((m) => m.topic.startsWith('$')).map((m) => m.topic), ['$named/x'])
    })

    it('except $SYS, the broker\'s own: $SYS/# is refused and a client publishing to $SYS/… is disconnected', async () => {
      const spy = await busSpy(broker, '$SYS/forged/#')
      try {
        const client = await anon()
        assert.deepEqual(await subscribeCodes(client, ['$SYS/#', '$SYS/+/heartbeat', '$foo/ok'], 1), [128, 128, 1])
        client.publish('$SYS/forged/heartbeat', 'nope', { qos: 1 })
        await closedByBroker(client)
        await serverPublish(broker, '$SYS/forged/control', 'control')
        await waitFor(() => spy.topics.includes('$SYS/forged/control'), 3000, 'the control message')
        assert.deepEqual(spy.topics, ['$SYS/forged/control'])
      } finally {
        await spy.stop()
      }
    })
  })

  describe('client identifiers', () => {
    it('refuses a zero-length client id with clean=false with CONNACK 2 and closes [MQTT-3.1.3-8]', async () => {
      const conn = await raw()
      conn.write(rawConnect({ clientId: '', clean: false }))
      assert.deepEqual(await bytes(conn, 4, 'CONNACK'), CONNACK(2))
      assert.ok(await closedWithin(conn), 'connection closed after a refusal [MQTT-3.2.2-5]')
    })

    it('accepts a zero-length client id with clean=true and serves it [MQTT-3.1.3-6, -7]', async () => {
      const conn = await raw()
      conn.write(rawConnect({ clientId: '', clean: true }))
      assert.deepEqual(await bytes(conn, 4, 'CONNACK'), CONNACK(0))
      conn.write(PINGREQ)
      assert.deepEqual((await bytes(conn, 6, 'PINGRESP')).slice(4), [0xd0, 0x00])
      conn.write(DISCONNECT)
      assert.ok(await closedWithin(conn))
      // and through MQTT.js as well
      assert.equal(await connackCode(broker.mqttUrl, { clientId: '', clean: true }), 0)
    })
  })

  describe('malformed input closes that connection and nothing else', () => {
    let talker: MqttClient
    let watched: Received[]
    let n = 0
    before(async () => {
      const watcher = await anon({ clientId: 'bystander-watcher' })
      await watcher.subscribeAsync('bystander/#', { qos: 1 })
      watched = collect(watcher)
      talker = await anon({ clientId: 'bystander-talker' })
    })
    const stillServing = async (): Promise<void> => {
      const payload = `still-serving-${++n}`
      await talker.publishAsync('bystander/check', payload, { qos: 1 })
      await waitFor(() => watched.some((m) => m.payload === payload), 3000, 'the bystanders\' message')
      assert.ok(clients.filter((c) => c.options.clientId?.startsWith('bystander-')).every((c) => c.connected))
    }
    const connected = async (clientId: string): Promise<RawConnection> => {
      const conn = await raw()
      conn.write(rawConnect({ clientId }))
      assert.deepEqual(await bytes(conn, 4, 'CONNACK'), CONNACK(0))
      return conn
    }

    it('(control) the same hand-built packets, well-formed, are served', async () => {
      const conn = await connected('raw-ok')
      conn.write(rawPublish(Buffer.from('bystander/raw'), Buffer.from('raw-hello'), 1, 7))
      conn.write(rawSubscribe(9, 'raw/#', 1))
      await waitFor(() => conn.received().length >= 9, 3000, 'PUBACK and SUBACK')
      assert.deepEqual([...conn.received().subarray(4, 9)], [0x40, 0x02, 0x00, 0x07, 0x90])
      await waitFor(() => watched.some((m) => m.payload === 'raw-hello'), 3000, 'the raw publish')
      assert.ok(!conn.isClosed())
      conn.write(DISCONNECT)
    })

    it('a PUBLISH whose topic is not valid UTF-8 (0xC3 0x28) [MQTT-1.5.3-1]', async () => {
      const conn = await connected('bad-utf8')
      conn.write(rawPublish(Buffer.from([0x62, 0x79, 0x73, 0x74, 0x61, 0x6e, 0x64, 0x65, 0x72, 0x2f, 0xc3, 0x28]), Buffer.from('x'), 0))
      assert.ok(await closedWithin(conn), 'connection closed')
      await stillServing()
    })

    it('a PUBLISH whose topic contains U+0000 [MQTT-1.5.3-2]', async () => {
      const conn = await connected('nul-topic')
      conn.write(rawPublish(Buffer.from('bystander/a\u0000b', 'utf8'), Buffer.from('x'), 1, 3))
      assert.ok(await closedWithin(conn), 'connection closed')
      await stillServing()
      assert.ok(!watched.some((m) => m.topic.includes('\u0000')))
    })

    it('a CONNECT with Will QoS 3 [MQTT-3.1.2-14]: no CONNACK 0, closed', async () => {
      const conn = await raw()
      conn.write(rawConnect({ clientId: 'will-qos-3', will: { topic: 'bystander/will', payload: 'w', qos: 3 } }))
      assert.ok(await closedWithin(conn), 'connection closed')
      const received = [...conn.received()]
      assert.notDeepEqual(received.slice(0, 4), CONNACK(0), 'the CONNECT was not accepted')
      await stillServing()
      assert.ok(!watched.some((m) => m.topic === 'bystander/will'), 'and its will is never published')
    })

    it('a QoS 1 PUBLISH with packet identifier 0 [MQTT-2.3.1-1]', async () => {
      const conn = await connected('pid-zero-publish')
      conn.write(rawPublish(Buffer.from('bystander/pid0'), Buffer.from('x'), 1, 0))
      assert.ok(await closedWithin(conn), 'connection closed')
      await stillServing()
      assert.ok(!watched.some((m) => m.topic === 'bystander/pid0'))
    })

    it('a SUBSCRIBE with packet identifier 0 [MQTT-2.3.1-1]', async () => {
      const conn = await connected('pid-zero-subscribe')
      conn.write(rawSubscribe(0, 'bystander/#', 1))
      assert.ok(await closedWithin(conn), 'connection closed')
      assert.deepEqual([...conn.received().subarray(4)], [], 'no SUBACK')
      await stillServing()
    })
  })

  describe('the IM namespace stays closed to anonymous clients', () => {
    it('refuses im/# and im/u/+/in (SUBACK 0x80) and grants # in the same SUBSCRIBE', async () => {
      const client = await anon()
      assert.deepEqual(await subscribeCodes(client, ['im/#', 'im/u/+/in', 'im/u/alice/in', 'im/p/alice', '#'], 1), [128, 128, 128, 128, 1])
      assert.ok(client.connected)
    })

    it('never delivers an im/ message, live or retained, through #', async () => {
      await serverPublish(broker, 'im/p/alice', '{"online":true,"ts":1}', { retain: true })
      await serverPublish(broker, 'ns/retained', 'visible', { retain: true })
      const client = await anon()
      const got = collect(client)
      assert.deepEqual(await subscribeCodes(client, ['#', '+/u/+/in'], 1), [1, 1])
      await waitFor(() => got.some((m) => m.topic === 'ns/retained'), 3000, 'the retained control message')
      await serverPublish(broker, 'im/u/alice/in', 'x')
      await serverPublish(broker, 'ns/live', 'control')
      await waitFor(() => got.some((m) => m.topic === 'ns/live'), 3000, 'the live control message')
      assert.deepEqual(got.filter((m) => m.topic === 'im' || m.topic.startsWith('im/')), [])
    })

    it('disconnects an anonymous client that publishes to im/u/alice/out, and drops an anonymous will there', async () => {
      const spy = await busSpy(broker, 'im/u/alice/#')
      try {
        const client = await anon()
        client.publish('im/u/alice/out', '{"op":"send","cmid":"forged"}', { qos: 1 })
        await closedByBroker(client)
        const dying = await anon({ clientId: 'im-will', will: { topic: 'im/u/alice/out', payload: Buffer.from('{"op":"send"}'), qos: 1, retain: false } })
        const gone = released(broker, 'im-will')
        dying.stream.destroy()
        await gone
        await serverPublish(broker, 'im/u/alice/in', 'control')
        await waitFor(() => spy.topics.includes('im/u/alice/in'), 3000, 'the control message')
        assert.deepEqual(spy.topics, ['im/u/alice/in'])
      } finally {
        await spy.stop()
      }
    })
  })

  describe('interoperability with other client stacks', () => {
    it('works with Debian\'s paho-mqtt (retained, QoS 2, will) in both directions', async (t) => {
      const missing = pahoMissing()
      if (missing) { skipLoudly(t, missing); return }
      const version = spawnSync(PYTHON, ['-c', 'import paho.mqtt; print(paho.mqtt.__version__)'], { encoding: 'utf8' }).stdout.trim()
      t.diagnostic(`paho-mqtt ${version}`)

      const observer = await anon({ clientId: 'paho-observer' })
      await observer.subscribeAsync('paho/#', { qos: 2 })
      const seen = collect(observer)
      await observer.publishAsync('paho/from-mqttjs', 'hello-from-mqttjs', { qos: 2, retain: true })

      const { stdout } = await run(PYTHON, [PAHO_SCRIPT, String(port), 'paho'], { timeout: 25_000 }).catch((err: { stdout?: string, stderr?: string, message: string }) => {
        throw new Error(`the paho script failed: ${err.message}\nstdout: ${err.stdout ?? ''}\nstderr: ${err.stderr ?? ''}`)
      })
      const result = JSON.parse(stdout) as { ok: boolean, paho: string, checks: Record<string, boolean>, errors: string[], [k: string]: any }
      assert.equal(result.paho, version)
      assert.deepEqual(result.errors, [])
      assert.deepEqual(result.checks, { connected: true, retained: true, fromMqttjs: true, qos2: true, downgraded: true, will: true, qos2Once: true })
      assert.deepEqual(result.retained, { topic: 'paho/retained', payload: 'paho-kept', qos: 1, retain: true })
      assert.deepEqual(result.fromMqttjs, { topic: 'paho/from-mqttjs', payload: 'hello-from-mqttjs', qos: 1, retain: true })
      assert.deepEqual(result.qos2, { topic: 'paho/q2', payload: 'paho-q2', qos: 2, retain: false })
      assert.deepEqual(result.downgraded, { topic: 'paho/q1/x', payload: 'paho-q2-to-q1', qos: 1, retain: false })
      assert.deepEqual(result.will, { topic: 'paho/will', payload: 'paho-gone', qos: 1, retain: false })
      assert.equal(result.ok, true)

      // What paho sent reached MQTT.js too, at the QoS it was sent with.
      await waitFor(() => seen.some((m) => m.topic === 'paho/will'), 3000, 'paho\'s will at MQTT.js')
      assert.deepEqual(payloads(seen, 'paho/q2'), [{ topic: 'paho/q2', payload: 'paho-q2', retain: false, qos: 2 }])
      assert.deepEqual(payloads(seen, 'paho/will'), [{ topic: 'paho/will', payload: 'paho-gone', retain: false, qos: 1 }])
      assert.ok(payloads(seen, 'paho/retained').some((m) => m.payload === 'paho-kept' && m.qos === 2))
    })

    it('works with mosquitto_pub and mosquitto_sub (retained, QoS 1, will)', async (t) => {
      const missing = [MOSQUITTO_PUB, MOSQUITTO_SUB].filter((bin) => !existsSync(bin))
      if (missing.length > 0) { skipLoudly(t, `${missing.join(', ')} missing (apt-get install mosquitto-clients)`); return }
      const observer = await anon({ clientId: 'mosquitto-observer' })
      await observer.subscribeAsync('mosq/#', { qos: 1 })
      const seen = collect(observer)
      const common = ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311']

      // mosquitto_pub → broker: retained, QoS 1 (it exits 0 only after the PUBACK)
      await run(MOSQUITTO_PUB, [...common, '-i', 'mosq-pub', '-t', 'mosq/retained', '-m', 'from-mosquitto', '-q', '1', '-r'], { timeout: 10_000 })
      await waitFor(() => seen.some((m) => m.topic === 'mosq/retained'), 3000, 'mosquitto_pub\'s message at MQTT.js')
      assert.deepEqual(payloads(seen, 'mosq/retained'), [{ topic: 'mosq/retained', payload: 'from-mosquitto', retain: false, qos: 1 }])

      // broker → mosquitto_sub: the retained message (flag set), then a live QoS 1 message from MQTT.js
      const sub = spawn(MOSQUITTO_SUB, [...common, '-i', 'mosq-sub', '-t', 'mosq/retained', '-t', 'mosq/live', '-q', '1', '-C', '2', '-W', '10', '-F', '%t|%q|%r|%p',
        '--will-topic', 'mosq/sub-will', '--will-payload', 'mosquitto-sub-gone', '--will-qos', '1'], { stdio: ['ignore', 'pipe', 'pipe'] })
      children.push(sub)
      const exited = new Promise<number | null>((resolve) => sub.once('exit', (code) => resolve(code)))
      const lines: string[] = []
      createInterface({ input: sub.stdout! }).on('line', (line) => lines.push(line))
      let stderr = ''
      sub.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
      await waitFor(() => lines.length >= 1, 5000, 'the retained message at mosquitto_sub')
      await observer.publishAsync('mosq/live', 'from-mqttjs', { qos: 1 })
      assert.equal(await exited, 0, stderr)
      assert.deepEqual(lines, ['mosq/retained|1|1|from-mosquitto', 'mosq/live|1|0|from-mqttjs'])

      // mosquitto_sub exited after -C 2 with a DISCONNECT: no will. A killed one leaves its will.
      const killed = spawn(MOSQUITTO_SUB, [...common, '-i', 'mosq-killed', '-t', 'mosq/retained', '-q', '1',
        '--will-topic', 'mosq/killed-will', '--will-payload', 'mosquitto-killed', '--will-qos', '1'], { stdio: ['ignore', 'pipe', 'ignore'] })
      children.push(killed)
      const killedLines: string[] = []
      createInterface({ input: killed.stdout! }).on('line', (line) => killedLines.push(line))
      await waitFor(() => killedLines.length >= 1, 5000, 'the second mosquitto_sub to be subscribed')
      killed.kill('SIGKILL')
      await waitFor(() => seen.some((m) => m.topic === 'mosq/killed-will'), 3000, 'the killed mosquitto_sub\'s will')
      assert.deepEqual(payloads(seen, 'mosq/killed-will'), [{ topic: 'mosq/killed-will', payload: 'mosquitto-killed', retain: false, qos: 1 }])
      assert.deepEqual(payloads(seen, 'mosq/sub-will'), [], 'a clean DISCONNECT publishes no will')
    })
  })
})
