import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import type { MqttClient } from 'mqtt'
import { topics } from '../../shared/topics.js'
import { startTestBroker, tempDataDir, type TestBroker } from '../helpers/broker.js'
import { serverPublish } from '../helpers/bus.js'
import { adminToken, api, createUser, type Principal } from '../helpers/http.js'
import { closedByBroker, collect, connectClient, subscribeCodes, waitFor } from '../helpers/mqtt.js'

const run = promisify(execFile)

describe('ACL of the IM namespace', () => {
  let broker: TestBroker
  let alice: Principal
  let bob: Principal
  let agent: Principal
  let admin: string
  const open: MqttClient[] = []
  const as = async (p: Principal, clientId = `${p.uid}-${open.length}`): Promise<MqttClient> => {
    const client = await connectClient(broker.mqttUrl, { username: p.uid, password: p.token, clientId })
    open.push(client)
    return client
  }

  before(async () => {
    const dataDir = tempDataDir()
    const aclFile = join(dataDir, 'acl')
    // carol may read the whole generic namespace, so `#` is granted to her: it must still never deliver an inbox.
    writeFileSync(aclFile, 'user carol\ntopic readwrite #\n')
    broker = await startTestBroker({ ACL_FILE: aclFile }, dataDir)
    admin = await adminToken(broker.httpUrl)
    alice = await createUser(broker.httpUrl, admin, 'alice')
    bob = await createUser(broker.httpUrl, admin, 'bob')
    agent = await createUser(broker.httpUrl, admin, 'agent1', 'agent')
  })
  after(async () => {
    await Promise.all(open.map(async (c) => { await c.endAsync(true) }))
    await broker.stop()
  })

  it('lets a principal subscribe to its own inbox and nothing else in im/u/', async () => {
    const client = await as(alice)
    const filters = [topics.inbox('alice'), topics.inbox('bob'), 'im/u/+/in', 'im/#', 'im/+/bob/in', 'im/u/bob/#', 'im/u/alice/#', topics.outbox('alice'), '#', '+/u/bob/in', '+/+/+/in']
    const codes = await subscribeCodes(client, filters)
    assert.deepEqual(codes, [1, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128])
  })

  it('delivers the server\'s inbox events to their principal only', async () => {
    const a = await as(alice)
    const b = await as(bob)
    await subscribeCodes(a, [topics.inbox('alice')])
    await subscribeCodes(b, [topics.inbox('bob')])
    const gotA = collect(a)
    const gotB = collect(b)
    await serverPublish(broker, topics.inbox('bob'), '{"ev":"test","n":1}')
    await serverPublish(broker, topics.inbox('alice'), '{"ev":"test","n":2}')
    await waitFor(() => gotA.length === 1 && gotB.length === 1, 3000, 'both inbox events')
    assert.equal(gotB[0]?.payload, '{"ev":"test","n":1}')
    assert.equal(gotA[0]?.payload, '{"ev":"test","n":2}')
  })

  it('accepts a publish to the own outbox', async () => {
    const client = await as(alice)
    await client.publishAsync(topics.outbox('alice'), '{"op":"noop"}', { qos: 1 })
    assert.ok(client.connected)
  })

  for (const [what, topic] of [['another uid\'s inbox', topics.inbox('bob')], ['another uid\'s outbox', topics.outbox('bob')], ['a presence topic', topics.presence('alice')], ['a broadcast channel', topics.broadcast('support/queue')], ['an unknown im/ topic', 'im/x/y']] as const) {
    it(`disconnects a client that publishes to ${what}, and delivers nothing`, async () => {
      const victim = await as(bob)
      await subscribeCodes(victim, [topics.inbox('bob')])
      const got = collect(victim)
      const attacker = await as(alice)
      attacker.publish(topic, '{"ev":"msg","forged":true}', { qos: 1 })
      await closedByBroker(attacker)
      // The refused PUBLISH was handled before the connection closed: a server event published
      // now reaches bob after anything it could have routed to him.
      await serverPublish(broker, topics.inbox('bob'), '{"ev":"marker"}')
      await waitFor(() => got.length > 0, 3000, 'the marker')
      assert.deepEqual(got.map((m) => m.payload), ['{"ev":"marker"}'])
      assert.ok(victim.connected, 'the other client is untouched')
    })
  }

  it('never delivers an inbox through a generic wildcard, even to a principal granted `#`', async () => {
    const carol = await createUser(broker.httpUrl, admin, 'carol')
    const client = await as(carol)
    assert.deepEqual(await subscribeCodes(client, ['#', '+/u/bob/in']), [1, 1])
    const got = collect(client)
    await serverPublish(broker, topics.inbox('bob'), 'secret')
    await serverPublish(broker, 'plain/topic', 'visible')
    // Published after the inbox event, the generic message comes after it, had it been delivered.
    await waitFor(() => got.some((m) => m.topic === 'plain/topic'), 3000, 'the generic message')
    // Her own presence (im/p/carol) she may see; nobody's inbox ever.
    assert.deepEqual(got.map((m) => m.topic).filter((t) => t !== 'im/p/carol'), ['plain/topic'])
    assert.ok(!got.some((m) => m.topic.startsWith('im/u/')))
  })

  it('shows presence to oneself, and to others only as granted', async () => {
    await serverPublish(broker, topics.presence('bob'), '{"online":true,"ts":1}', { retain: true })
    const a = await as(alice)
    assert.deepEqual(await subscribeCodes(a, [topics.presence('alice'), topics.presence('bob'), 'im/p/+', 'im/p/#']), [1, 128, 128, 128])
    const ag = await as(agent)
    const got = collect(ag)
    assert.deepEqual(await subscribeCodes(ag, ['im/p/+']), [1])
    await waitFor(() => got.find((m) => m.topic === topics.presence('bob')), 3000, 'retained presence')
    assert.equal(got.find((m) => m.topic === topics.presence('bob'))?.retain, true)
    assert.deepEqual(await subscribeCodes(ag, [topics.inbox('bob')]), [128])
  })

  it('lets a device read exactly the channels and presence it was granted', async () => {
    const created = await api(broker.httpUrl, 'POST', '/api/v1/admin/principals', { uid: 'desk-light', role: 'device', secret: 'desk-light-secret-01', grants: { channels: ['support/queue'], presence: ['alice'] } }, admin)
    assert.equal(created.status, 201)
    const device = await connectClient(broker.mqttUrl, { username: 'desk-light', password: 'desk-light-secret-01', clientId: 'desk-light' })
    open.push(device)
    assert.deepEqual(await subscribeCodes(device, [topics.broadcast('support/queue'), topics.broadcast('announcements'), 'im/b/#', topics.presence('alice'), topics.presence('bob')]), [1, 128, 128, 1, 128])
    const got = collect(device)
    await serverPublish(broker, topics.broadcast('support/queue'), '{"waiting":2}', { retain: true })
    // (The desk's own retained status, and alice's retained presence, may arrive first; this one
    // must arrive, and nothing but the granted channel and presence ever does.)
    await waitFor(() => got.some((m) => m.payload === '{"waiting":2}'), 3000, 'queue status')
    const granted = [topics.broadcast('support/queue'), topics.presence('alice')]
    assert.ok(got.every((m) => granted.includes(m.topic)), JSON.stringify(got.map((m) => m.topic)))
  })

  it('lets an admin broadcast on im/b/ and nobody else', async () => {
    const adminClient = await connectClient(broker.mqttUrl, { username: 'admin', password: admin, clientId: 'admin-ws' })
    open.push(adminClient)
    const ag = await as(agent)
    assert.deepEqual(await subscribeCodes(ag, [topics.broadcast('support/queue')]), [1])
    const got = collect(ag)
    await adminClient.publishAsync(topics.broadcast('support/queue'), 'from-admin', { qos: 1 })
    await waitFor(() => got.some((m) => m.payload === 'from-admin'), 3000, 'admin broadcast')
    ag.publish(topics.broadcast('support/queue'), 'from-agent', { qos: 1 })
    await closedByBroker(ag)
  })

  it('refuses another inbox to mosquitto_sub too', async (t) => {
    if (!existsSync('/usr/bin/mosquitto_sub')) { t.skip('SKIPPED: mosquitto-clients is not installed (apt-get install mosquitto-clients)'); return }
    const port = new URL(broker.mqttUrl).port
    const refused = await run('/usr/bin/mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-u', 'alice', '-P', alice.token, '-t', topics.inbox('bob'), '-q', '1', '-C', '1', '-W', '3']).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }))
    // mosquitto_sub reports the SUBACK 0x80 ("All subscription requests were denied.") and stops.
    assert.match(refused.out, /denied/i, refused.out)
    const badToken = await run('/usr/bin/mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-u', 'alice', '-P', 'not-a-token', '-t', topics.inbox('alice'), '-C', '1', '-W', '3']).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }))
    assert.notEqual(badToken.code, 0)
    assert.match(badToken.out, /not authori[sz]ed/i, badToken.out)
  })
})
