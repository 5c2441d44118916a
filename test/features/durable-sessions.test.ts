/**
 * Durable sessions: a persistent session (clean=false) keeps its QoS 1 queue across `kill -9`,
 * SIGTERM and SIGINT; the queue is bounded (tail drop when full, expiry on delivery) and counted
 * in `/metrics`; a clean session never sees what was queued. [IM-Q-1..4]
 *
 * The restart tests run the broker as a child process on one DATA_DIR; the restarted broker
 * listens on new ports. Clients are MQTT.js and, where installed, Mosquitto's command-line tools.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import { promisify } from 'node:util'
import type { IClientOptions, MqttClient } from 'mqtt'
import { spawnBroker, startTestBroker, tempDataDir, type SpawnedBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, createUser, type Principal } from '../helpers/http.js'
import { connectClient, openSession, sleep, waitFor, type Session } from '../helpers/mqtt.js'

const run = promisify(execFile)
const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub'
const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub'

/** How long to keep listening after the expected messages, to catch duplicates and strays. */
const SETTLE_MS = 300

// ---------------------------------------------------------------------------------------------
// helpers


/** Publishes each payload at QoS 1, one after the other, each acknowledged (PUBACK) before the next. */
async function publishInOrder (url: string, options: IClientOptions, topic: string, payloads: string[]): Promise<void> {
  const client = await connectClient(url, options)
  try {
    for (const payload of payloads) await client.publishAsync(topic, payload, { qos: 1 })
  } finally {
    await client.endAsync()
  }
}

/** Waits for `n` messages, then a little longer, and returns the payloads received (all of them). */
async function receive (session: Session, n: number, what: string): Promise<string[]> {
  await waitFor(() => session.got.length >= n, 10_000, what).catch((err: Error) => {
    throw new Error(`${err.message}: ${n} expected, got ${JSON.stringify(session.got.map((m) => m.payload))}`)
  })
  await sleep(SETTLE_MS)
  return session.got.map((m) => m.payload)
}

/** Subscribes a persistent session at QoS 1, then leaves it offline. */
async function leaveOffline (url: string, options: IClientOptions, topic: string): Promise<void> {
  const client = await connectClient(url, { ...options, clean: false })
  try {
    const granted = await client.subscribeAsync(topic, { qos: 1 })
    assert.equal(granted[0]?.qos, 1, `QoS 1 granted on ${topic}`)
  } finally {
    await client.endAsync()
  }
}

async function queueDrops (metricsUrl: string): Promise<Record<string, number>> {
  const res = await fetch(metricsUrl)
  assert.equal(res.status, 200)
  const text = await res.text()
  const drops: Record<string, number> = {}
  for (const [, reason, value] of text.matchAll(/^mqtt_queue_dropped_total\{reason="([a-z]+)"\} (\d+)$/gm)) drops[reason as string] = Number(value)
  return drops
}

const range = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`)

/** The broker exits by itself after `signal`; rejects if it is still running after `ms`. */
async function exitAfter (broker: SpawnedBroker, signal: NodeJS.Signals, ms: number): Promise<number | string | null> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`broker still running ${ms} ms after ${signal}`)), ms) })
  try {
    return await Promise.race([broker.kill(signal), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A child-process broker on a DATA_DIR that outlives it, with two principals: `alice` reads
 * `devices/alice/#` (the ACL's `%u` pattern), `sensor` may write to any `devices/+/inbox`.
 */
class Restartable {
  readonly dataDir = tempDataDir()
  readonly topic = 'devices/alice/inbox'
  broker!: SpawnedBroker
  alice!: Principal
  sensor!: Principal
  readonly #aclFile = join(this.dataDir, 'acl')
  readonly #clients: MqttClient[] = []
  /**
   * Even if the run is cut short before `dispose` (the test runner ends a file that timed out
   * with SIGTERM), leave no broker behind.
   */
  readonly #onExit = (): void => {
    this.broker?.child.kill('SIGKILL')
    rmSync(this.dataDir, { recursive: true, force: true })
  }

  readonly #onSigterm = (): void => {
    this.#onExit()
    process.off('exit', this.#onExit)
    process.kill(process.pid, 'SIGTERM') // this listener is gone: the default action ends the process
  }

  constructor () {
    process.once('exit', this.#onExit)
    process.once('SIGTERM', this.#onSigterm)
  }

  async start (): Promise<void> {
    writeFileSync(this.#aclFile, 'pattern readwrite devices/%u/#\nuser sensor\ntopic write devices/+/inbox\n')
    await this.restart()
    const admin = await adminToken(this.broker.httpUrl)
    this.alice = await createUser(this.broker.httpUrl, admin, 'alice')
    this.sensor = await createUser(this.broker.httpUrl, admin, 'sensor')
  }

  /** Starts a broker on the same DATA_DIR (the previous one must be gone). */
  async restart (): Promise<void> {
    this.broker = await spawnBroker({ DATA_DIR: this.dataDir, ACL_FILE: this.#aclFile })
  }

  get mqttPort (): string { return String(this.broker.ports.mqtt) }

  async sensorPublishes (payloads: string[]): Promise<void> {
    await publishInOrder(this.broker.mqttUrl, { username: 'sensor', password: this.sensor.token, clientId: 'sensor-1' }, this.topic, payloads)
  }

  /** Publishes, then sends SIGKILL the moment the last PUBACK arrives: acknowledged means stored. */
  async sensorPublishesThenCrash (payloads: string[]): Promise<void> {
    const client = await connectClient(this.broker.mqttUrl, { username: 'sensor', password: this.sensor.token, clientId: 'sensor-1' })
    try {
      for (const payload of payloads) await client.publishAsync(this.topic, payload, { qos: 1 })
      this.broker.child.kill('SIGKILL')
    } finally {
      client.end(true)
    }
    assert.equal(await this.broker.exited, 'SIGKILL')
  }

  async aliceSession (clientId: string): Promise<Session> {
    const session = await openSession(this.broker.mqttUrl, { username: 'alice', password: this.alice.token, clientId, clean: false })
    this.#clients.push(session.client)
    return session
  }

  async aliceOffline (clientId: string): Promise<void> {
    await leaveOffline(this.broker.mqttUrl, { username: 'alice', password: this.alice.token, clientId }, this.topic)
  }

  async killHard (): Promise<void> {
    assert.equal(await this.broker.kill('SIGKILL'), 'SIGKILL')
  }

  async dispose (): Promise<void> {
    await Promise.all(this.#clients.map(async (c) => { await c.endAsync(true) }))
    await this.broker?.kill('SIGKILL')
    rmSync(this.dataDir, { recursive: true, force: true })
    process.off('exit', this.#onExit)
    process.off('SIGTERM', this.#onSigterm)
  }
}

async function restartable (t: TestContext): Promise<Restartable> {
  const r = new Restartable()
  t.after(async () => { await r.dispose() })
  await r.start()
  return r
}

interface CliResult { code: number, stdout: string, stderr: string }

async function cli (file: string, args: string[]): Promise<CliResult> {
  return await run(file, args, { timeout: 20_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number, stdout?: string, stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }))
}

function missingMosquitto (): string | undefined {
  const missing = [MOSQUITTO_SUB, MOSQUITTO_PUB].filter((f) => !existsSync(f))
  return missing.length > 0 ? `mosquitto-clients missing: ${missing.join(', ')} not found (apt-get install mosquitto-clients); this case did NOT run` : undefined
}

// ---------------------------------------------------------------------------------------------
// tests

describe('durable sessions across broker restarts', () => {
  it('delivers every queued QoS 1 message to MQTT.js after kill -9, in publish order, exactly once', async (t) => {
    const r = await restartable(t)
    await r.aliceOffline('alice-phone')
    await r.sensorPublishesThenCrash(range('m', 1, 3)) // queued while alice is offline, then kill -9
    await r.restart()
    await r.sensorPublishes(range('m', 4, 5)) // after the restart, before alice is back

    const back = await r.aliceSession('alice-phone')
    assert.equal(back.sessionPresent, true, 'the session survived kill -9') // [MQTT-3.2.2-2]
    assert.deepEqual(await receive(back, 5, 'queued messages'), range('m', 1, 5))
    assert.ok(back.got.every((m) => m.topic === r.topic && m.qos === 1 && !m.retain))
    await back.client.endAsync()

    // Every PUBACK removed its message durably: a second crash redelivers nothing, and the
    // session keeps its subscription for what comes next.
    await r.killHard()
    await r.restart()
    const again = await r.aliceSession('alice-phone')
    assert.equal(again.sessionPresent, true)
    await r.sensorPublishes(['m6'])
    assert.deepEqual(await receive(again, 1, 'new message'), ['m6'])
  })

  it('delivers every queued QoS 1 message to mosquitto_sub after kill -9, in publish order, exactly once', async (t) => {
    const missing = missingMosquitto()
    if (missing) { t.skip(missing); return }
    const r = await restartable(t)
    const sub = (extra: string[]): Promise<CliResult> => cli(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', r.mqttPort, '-i', 'alice-cli', '-c', '-q', '1', '-t', r.topic, '-u', 'alice', '-P', r.alice.token, '-v', ...extra])
    const pub = async (payloads: string[]): Promise<void> => {
      for (const payload of payloads) {
        const res = await cli(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', r.mqttPort, '-i', 'sensor-cli', '-q', '1', '-t', r.topic, '-u', 'sensor', '-P', r.sensor.token, '-m', payload])
        assert.equal(res.code, 0, `mosquitto_pub ${payload}: ${res.stderr}`)
      }
    }

    const subscribed = await sub(['-E']) // -E: exit once the SUBACK arrives; -c keeps the session
    assert.equal(subscribed.code, 0, subscribed.stderr)
    await pub(range('q', 1, 3))

    await r.killHard()
    await r.restart()
    await pub(range('q', 4, 5))

    const drained = await sub(['-C', '5', '-W', '10'])
    assert.equal(drained.code, 0, `mosquitto_sub: ${drained.stderr}`)
    assert.deepEqual(drained.stdout.trim().split('\n'), range('q', 1, 5).map((p) => `${r.topic} ${p}`))

    // Nothing else is left to redeliver. mosquitto_sub -C 5 may exit before its PUBACK for the
    // fifth message leaves, and QoS 1 then redelivers that one message (at least once) — never more.
    const rest = await sub(['-C', '1', '-W', '2'])
    assert.ok(rest.stdout === '' || rest.stdout === `${r.topic} q5\n`, `unexpected redelivery: ${JSON.stringify(rest.stdout)}`)
  })

  it('exits with code 0 on SIGTERM and on SIGINT, and keeps the queue through both', async (t) => {
    const r = await restartable(t)
    await r.aliceOffline('alice-laptop')
    await r.sensorPublishes(range('g', 1, 2))
    assert.equal(await exitAfter(r.broker, 'SIGTERM', 8000), 0)

    await r.restart()
    await r.sensorPublishes(['g3'])
    assert.equal(await exitAfter(r.broker, 'SIGINT', 8000), 0)

    await r.restart()
    await r.sensorPublishes(['g4'])
    const back = await r.aliceSession('alice-laptop')
    assert.equal(back.sessionPresent, true)
    assert.deepEqual(await receive(back, 4, 'queued messages'), range('g', 1, 4))
  })
})

describe('bounded offline queue', () => {
  const anonymous = (clientId: string): IClientOptions => ({ clientId })
  const open: MqttClient[] = []
  const sessionOf = async (broker: TestBroker, clientId: string, clean = false): Promise<Session> => {
    const session = await openSession(broker.mqttUrl, { clientId, clean })
    open.push(session.client)
    return session
  }
  after(async () => { await Promise.all(open.map(async (c) => { await c.endAsync(true) })) })

  describe('with QUEUE_MAX_MESSAGES=5', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker({ QUEUE_MAX_MESSAGES: 5, ANONYMOUS_NAMESPACE: 'q/#' }) })
    after(async () => { await broker.stop() })

    it('keeps the first 5 of 8 messages published in one burst, drops the tail and counts it', async () => {
      await leaveOffline(broker.mqttUrl, anonymous('full-1'), 'q/full')
      // Not awaited one by one: the 8 PUBLISH packets reach the broker together and are
      // handled concurrently, which must not let them all see room in the queue.
      const publisher = await connectClient(broker.mqttUrl, anonymous('pub-full'))
      await Promise.all(range('f', 1, 8).map(async (p) => { await publisher.publishAsync('q/full', p, { qos: 1 }) }))
      await publisher.endAsync()
      assert.deepEqual(await queueDrops(broker.metricsUrl), { full: 3 })

      const back = await sessionOf(broker, 'full-1')
      assert.deepEqual(await receive(back, 5, 'queued messages'), range('f', 1, 5))
      await back.client.endAsync()

      // The delivered messages freed their slots: the queue fills up to the bound again.
      await publishInOrder(broker.mqttUrl, anonymous('pub-full'), 'q/full', range('r', 1, 6))
      assert.deepEqual(await queueDrops(broker.metricsUrl), { full: 4 })
      const again = await sessionOf(broker, 'full-1')
      assert.deepEqual(await receive(again, 5, 'queued messages'), range('r', 1, 5))
    })

    it('bounds each client on its own', async () => {
      const before = (await queueDrops(broker.metricsUrl)).full ?? 0
      await leaveOffline(broker.mqttUrl, anonymous('own-1'), 'q/own')
      await publishInOrder(broker.mqttUrl, anonymous('pub-own'), 'q/own', range('o', 1, 4))
      await leaveOffline(broker.mqttUrl, anonymous('own-2'), 'q/own')
      await publishInOrder(broker.mqttUrl, anonymous('pub-own'), 'q/own', range('o', 5, 7))
      // own-1 had room for one more of o5..o7; own-2, subscribed later, has room for all three.
      assert.equal((await queueDrops(broker.metricsUrl)).full, before + 2)
      const one = await sessionOf(broker, 'own-1')
      const two = await sessionOf(broker, 'own-2')
      assert.deepEqual(await receive(one, 5, 'own-1 messages'), range('o', 1, 5))
      assert.deepEqual(await receive(two, 3, 'own-2 messages'), range('o', 5, 7))
    })

    it('gives a clean session none of the messages queued for the old one', async () => {
      await leaveOffline(broker.mqttUrl, anonymous('clean-1'), 'q/clean')
      await publishInOrder(broker.mqttUrl, anonymous('pub-clean'), 'q/clean', range('c', 1, 3))

      const clean = await sessionOf(broker, 'clean-1', true)
      assert.equal(clean.sessionPresent, false) // [MQTT-3.2.2-1]
      await sleep(SETTLE_MS)
      assert.deepEqual(clean.got, [])
      await clean.client.endAsync()

      // The clean session ended the old one: its subscription is gone, nothing more is queued,
      // and a persistent session started afterwards is new and empty.
      await publishInOrder(broker.mqttUrl, anonymous('pub-clean'), 'q/clean', ['c4'])
      const fresh = await sessionOf(broker, 'clean-1')
      assert.equal(fresh.sessionPresent, false)
      await sleep(SETTLE_MS)
      assert.deepEqual(fresh.got, [])
      await fresh.client.endAsync()

      // ...with a whole queue of its own: the discarded messages no longer count.
      await leaveOffline(broker.mqttUrl, anonymous('clean-1'), 'q/clean')
      await publishInOrder(broker.mqttUrl, anonymous('pub-clean'), 'q/clean', range('n', 1, 5))
      const back = await sessionOf(broker, 'clean-1')
      assert.deepEqual(await receive(back, 5, 'queued messages'), range('n', 1, 5))
    })

    it('queues nothing for a clean-session subscriber that went away', async () => {
      const first = await sessionOf(broker, 'clean-2', true)
      await first.client.subscribeAsync('q/gone', { qos: 1 })
      await first.client.endAsync()
      await publishInOrder(broker.mqttUrl, anonymous('pub-gone'), 'q/gone', range('x', 1, 2))
      const back = await sessionOf(broker, 'clean-2', true)
      assert.equal(back.sessionPresent, false)
      await sleep(SETTLE_MS)
      assert.deepEqual(back.got, [])
    })
  })

  describe('with QUEUE_MAX_AGE_SECONDS=1', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker({ QUEUE_MAX_MESSAGES: 5, QUEUE_MAX_AGE_SECONDS: 1, ANONYMOUS_NAMESPACE: 'q/#' }) })
    after(async () => { await broker.stop() })

    it('drops the messages that waited longer than the limit and delivers the fresh one', async () => {
      await leaveOffline(broker.mqttUrl, anonymous('old-1'), 'q/old')
      await publishInOrder(broker.mqttUrl, anonymous('pub-old'), 'q/old', range('e', 1, 3))
      await sleep(1500)
      await publishInOrder(broker.mqttUrl, anonymous('pub-old'), 'q/old', ['fresh'])

      const back = await sessionOf(broker, 'old-1')
      assert.equal(back.sessionPresent, true)
      assert.deepEqual(await receive(back, 1, 'fresh message'), ['fresh'])
      assert.deepEqual(await queueDrops(broker.metricsUrl), { expired: 3 })
      await back.client.endAsync()

      // The expired messages gave their slots back: five new ones all fit.
      await publishInOrder(broker.mqttUrl, anonymous('pub-old'), 'q/old', range('n', 1, 5))
      const again = await sessionOf(broker, 'old-1')
      assert.deepEqual(await receive(again, 5, 'queued messages'), range('n', 1, 5))
      assert.deepEqual(await queueDrops(broker.metricsUrl), { expired: 3 })
    })
  })
})
