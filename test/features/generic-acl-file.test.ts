/**
 * The generic MQTT namespace under a Mosquitto-like ACL file (ACL_FILE), without an anonymous
 * namespace: `user`, `role` and `pattern` sections (%u, %c), deny, and `$` topics named by a rule.
 */
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { MqttClient } from 'mqtt'
import { startTestBroker, tempDataDir, type TestBroker } from '../helpers/broker.js'
import { busSpy, serverPublish } from '../helpers/bus.js'
import { adminToken, createUser, type Principal } from '../helpers/http.js'
import { closedByBroker, collect, connackCode, connectClient, subscribeCodes, waitFor } from '../helpers/mqtt.js'

describe('the generic ACL file (ACL_FILE, Mosquitto-like), without an anonymous namespace', () => {
  let broker: TestBroker
  let admin: string
  const users: Record<string, Principal> = {}
  const clients: MqttClient[] = []
  let seq = 0

  const as = async (uid: string, clientId = `${uid}-${++seq}`): Promise<MqttClient> => {
    const user = users[uid]
    assert.ok(user, uid)
    const client = await connectClient(broker.mqttUrl, { username: user.uid, password: user.token, clientId })
    clients.push(client)
    return client
  }
  /** The publish is refused: the client is disconnected and nothing reaches the message bus. */
  const publishRefused = async (client: MqttClient, topic: string): Promise<void> => {
    const spy = await busSpy(broker, topic)
    try {
      client.publish(topic, 'refused', { qos: 1 })
      await closedByBroker(client)
      await serverPublish(broker, topic, 'control')
      await waitFor(() => spy.topics.length > 0, 3000, 'the control message')
      assert.equal(spy.topics.length, 1, `${topic} was published by a client that may not`)
    } finally {
      await spy.stop()
    }
  }
  /** The publish is accepted: it reaches a subscriber on the same topic (the publisher itself). */
  const roundTrip = async (client: MqttClient, topic: string): Promise<void> => {
    const got = collect(client)
    assert.deepEqual(await subscribeCodes(client, [topic]), [1])
    await client.publishAsync(topic, `rt:${topic}`, { qos: 1 })
    await waitFor(() => got.some((m) => m.topic === topic && m.payload === `rt:${topic}`), 3000, `${topic} round trip`)
    assert.ok(client.connected)
  }

  before(async () => {
    const dataDir = tempDataDir()
    const aclFile = join(dataDir, 'generic.acl')
    writeFileSync(aclFile, [
      '# generic-namespace.test.ts: no rules before the first `user` line, so anonymous clients get nothing',
      'pattern readwrite devices/%u/#',
      'pattern readwrite clients/%c/#',
      '',
      'user carol',
      'topic readwrite carol-only/#',
      '',
      'user erin',
      'topic readwrite #',
      'topic readwrite $app/#',
      '',
      'user mallory',
      'topic read news/#',
      'topic deny #',
      '',
      'role agent',
      'topic read firmware/#',
      'topic readwrite lab/#',
      'topic deny lab/secret/#',
      ''
    ].join('\n'))
    broker = await startTestBroker({ ACL_FILE: aclFile }, dataDir)
    admin = await adminToken(broker.httpUrl)
    for (const uid of ['alice', 'bob', 'carol', 'erin', 'mallory']) users[uid] = await createUser(broker.httpUrl, admin, uid)
    users.dave = await createUser(broker.httpUrl, admin, 'dave', 'agent')
  })
  after(async () => {
    await Promise.all(clients.map(async (c) => { await c.endAsync(true) }))
    await broker.stop()
  })

  it('refuses an anonymous CONNECT with CONNACK 5 when ANONYMOUS_NAMESPACE is not set', async () => {
    assert.equal(await connackCode(broker.mqttUrl, { clientId: 'anonymous-here' }), 5)
    assert.equal(await connackCode(broker.mqttUrl, { clientId: '', clean: true }), 5)
  })

  it('`pattern readwrite devices/%u/#` opens devices/<own uid>/… and nothing of another uid', async () => {
    const alice = await as('alice')
    await roundTrip(alice, 'devices/alice/x')
    assert.deepEqual(await subscribeCodes(alice, ['devices/bob/x', 'devices/+/x', 'devices/#']), [128, 128, 128])
    await publishRefused(alice, 'devices/bob/x')
    const bob = await as('bob')
    await roundTrip(bob, 'devices/bob/x')
  })

  it('`pattern readwrite clients/%c/#` opens the topics of the connection\'s own client id', async () => {
    const alice = await as('alice', 'alice-phone')
    await roundTrip(alice, 'clients/alice-phone/status')
    assert.deepEqual(await subscribeCodes(alice, ['clients/alice-tablet/status', 'clients/+/status']), [128, 128])
    await publishRefused(alice, 'clients/alice-tablet/status')
    // a client id that would smuggle in a topic level or a wildcard gets no %c rule at all
    const sneaky = await as('bob', 'bob/x')
    assert.deepEqual(await subscribeCodes(sneaky, ['clients/bob/x/status']), [128])
  })

  it('a `user` section applies to that uid only', async () => {
    const carol = await as('carol')
    await roundTrip(carol, 'carol-only/notes')
    const alice = await as('alice')
    assert.deepEqual(await subscribeCodes(alice, ['carol-only/notes', 'carol-only/#']), [128, 128])
    await publishRefused(alice, 'carol-only/notes')
  })

  it('a `role` section applies to every principal of that role: agents read firmware/ but may not write it', async () => {
    const dave = await as('dave')
    const got = collect(dave)
    assert.deepEqual(await subscribeCodes(dave, ['firmware/#']), [1])
    await serverPublish(broker, 'firmware/v2', 'image')
    await waitFor(() => got.some((m) => m.topic === 'firmware/v2'), 3000, 'the firmware message')
    const alice = await as('alice')
    assert.deepEqual(await subscribeCodes(alice, ['firmware/#']), [128], 'a user is not an agent')
    await publishRefused(dave, 'firmware/v2')
  })

  it('a `deny` line beats a broader allow, for subscribing, receiving and publishing', async () => {
    const dave = await as('dave')
    await roundTrip(dave, 'lab/open/x')
    assert.deepEqual(await subscribeCodes(dave, ['lab/secret/x', 'lab/secret/#']), [128, 128])
    // `lab/#` is granted (it is not wholly denied), but nothing under lab/secret/ comes through it
    const watcher = await as('dave')
    const got = collect(watcher)
    assert.deepEqual(await subscribeCodes(watcher, ['lab/#']), [1])
    await serverPublish(broker, 'lab/secret/formula', 'hidden')
    await serverPublish(broker, 'lab/open/y', 'control')
    await waitFor(() => got.some((m) => m.topic === 'lab/open/y'), 3000, 'the control message')
    assert.deepEqual(got.map((m) => m.topic), ['lab/open/y'])
    await publishRefused(dave, 'lab/secret/formula')
    // `topic deny #` shuts a user out of everything, whatever else is granted
    const mallory = await as('mallory')
    assert.deepEqual(await subscribeCodes(mallory, ['news/today', 'anything']), [128, 128])
  })

  it('`topic readwrite #` is the wildcard, not a comment, and `$` topics need their own rule [MQTT-4.7.2-1]', async () => {
    const erin = await as('erin')
    await roundTrip(erin, 'any/topic/at/all')
    const wild = await as('erin')
    const gotWild = collect(wild)
    assert.deepEqual(await subscribeCodes(wild, ['#', '+/x']), [1, 1])
    const dollar = await as('erin')
    const gotDollar = collect(dollar)
    assert.deepEqual(await subscribeCodes(dollar, ['$app/#', '$other/#']), [1, 128])
    await erin.publishAsync('$app/x', 'dollar', { qos: 1 })
    await erin.publishAsync('plain/x', 'control', { qos: 1 })
    await waitFor(() => gotDollar.some((m) => m.topic === '$app/x') && gotWild.some((m) => m.topic === 'plain/x'), 3000, 'both messages')
    assert.deepEqual(gotWild.filter((m) => m.topic.startsWith('$')), [])
  })

  it('refuses to start with an ACL file that has a syntax error, naming the file and the line', async () => {
    const dataDir = tempDataDir()
    const dir = join(dataDir, 'conf')
    mkdirSync(dir)
    const aclFile = join(dir, 'broken.acl')
    writeFileSync(aclFile, '# fine so far\nuser alice\ntopic sometimes alice/#\n')
    try {
      await assert.rejects(startTestBroker({ ACL_FILE: aclFile }, dataDir), (err: Error) => {
        assert.ok(err.message.includes(`${aclFile}:3`), err.message)
        assert.match(err.message, /unknown access "sometimes"/)
        return true
      })
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
