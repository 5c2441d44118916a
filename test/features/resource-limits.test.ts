/**
 * Every resource a client can make the broker keep has a ceiling, each set small here so the test
 * reaches it: invitations a principal keeps without accepting, members per group, new
 * conversations per hour, subscriptions per connection, retained messages (count and bytes)
 * outside `im/`; and the conversation list comes in pages. [IM-CONV-2] [IM-CONV-3] [IM-LIMIT-2]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { MqttClient } from 'mqtt'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, defaultSiteKey, type Principal } from '../helpers/http.js'
import { createConversation, join } from '../helpers/im.js'
import { collect, connectClient, connectClientFrom, subscribeCodes, waitFor } from '../helpers/mqtt.js'

describe('conversation limits', () => {
  let broker: TestBroker
  let admin: string
  let alice: Principal
  let bob: Principal
  let carol: Principal
  let visitorUid: string
  before(async () => {
    broker = await startTestBroker({ MAX_PENDING_GROUPS: 3, MAX_GROUP_MEMBERS: 4, CONVERSATIONS_PER_USER_PER_HOUR: 12 })
    admin = await adminToken(broker.httpUrl)
    alice = await createUser(broker.httpUrl, admin, 'alice')
    bob = await createUser(broker.httpUrl, admin, 'bob')
    carol = await createUser(broker.httpUrl, admin, 'carol')
    await createUser(broker.httpUrl, admin, 'dan')
    await createUser(broker.httpUrl, admin, 'erin')
    visitorUid = (await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: await defaultSiteKey(broker.httpUrl, admin) })).body.uid
  })
  after(async () => { await broker.stop() })

  const group = async (token: string, members: string[]) => await api(broker.httpUrl, 'POST', '/api/v1/conversations', { kind: 'group', members }, token)

  it('adds others to a group pending, each reading or writing accepts; past MAX_PENDING_GROUPS the oldest invitation gives way (test/features/invitations.test.ts)', async () => {
    const cids: string[] = []
    for (let i = 0; i < 3; i++) {
      const res = await group(i < 2 ? alice.token : carol.token, ['bob'])
      assert.equal(res.status, 201)
      assert.equal(res.body.members.find((m: { uid: string }) => m.uid === 'bob').pending, true)
      assert.equal(res.body.members.find((m: { role: string }) => m.role === 'owner').pending, undefined, 'the creator is not pending')
      cids.push(res.body.cid)
    }
    const invitations = async (): Promise<string[]> => ((await api(broker.httpUrl, 'GET', '/api/v1/conversations', undefined, bob.token)).body.conversations as Array<{ cid: string, members: Array<{ uid: string, pending?: boolean }> }>)
      .filter((c) => c.members.some((m) => m.uid === 'bob' && m.pending === true)).map((c) => c.cid).sort()
    assert.deepEqual(await invitations(), [...cids].sort())
    const fourth = await group(carol.token, ['bob'])
    assert.equal(fourth.status, 201)
    assert.deepEqual(await invitations(), [cids[1]!, cids[2]!, fourth.body.cid].sort(), 'the oldest gave way')
    cids.shift()
    const unknown = await group(alice.token, ['nobody-here'])
    const visitor = await group(alice.token, [visitorUid])
    for (const res of [unknown, visitor]) assert.equal(res.status, 201, 'the same answer as for a uid that exists')

    // bob reads one of them: accepted, so there is room for one more invitation
    const b = await join(broker.mqttUrl, bob)
    try {
      await b.command({ op: 'read', cid: cids[0], seq: 0 })
      await b.next('read', (e) => e.cid === cids[0])
      const conv = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cids[0]}`, undefined, bob.token)
      assert.equal(conv.body.members.find((m: { uid: string }) => m.uid === 'bob').pending, undefined)
      // writing accepts too
      await b.command({ op: 'send', cmid: 'hi-1', cid: cids[1], type: 'text', body: { text: 'hi' } })
      await b.next('msg', (e) => e.msg.cmid === 'hi-1')
      assert.deepEqual(await invitations(), [fourth.body.cid])
    } finally { await b.close() }
    // an admin's group is not an invitation
    const byAdmin = await group(admin, ['bob'])
    assert.equal(byAdmin.status, 201)
    assert.equal(byAdmin.body.members.find((m: { uid: string }) => m.uid === 'bob').pending, undefined)
  })

  it('caps the members of a group at MAX_GROUP_MEMBERS', async () => {
    assert.equal((await group(carol.token, ['alice', 'dan', 'erin', 'bob'])).status, 400)
    const res = await group(carol.token, ['dan', 'erin'])
    assert.equal(res.status, 201)
    assert.equal((await api(broker.httpUrl, 'POST', `/api/v1/conversations/${res.body.cid}/members`, { uid: 'alice' }, carol.token)).status, 201)
    const fifth = await api(broker.httpUrl, 'POST', `/api/v1/conversations/${res.body.cid}/members`, { uid: 'bob' }, admin)
    assert.equal(fifth.status, 400)
    assert.match(fifth.body.error.message, /at most 4 members/)
  })

  it('limits new conversations per hour, and still returns an existing direct conversation', async () => {
    const dan = (await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'dan', password: 'pw-dan-12345' })).body.token as string
    const direct = await createConversation(broker.httpUrl, dan, 'direct', ['erin'])
    let status = 0
    let created = 1
    while (status !== 429 && created < 20) {
      const res = await group(dan, ['dan']) // a group of one: nobody else's invitations are used up
      status = res.status
      if (status === 201) created++
      else {
        assert.equal(res.body.error.code, 'IM_ERR_RATE_LIMITED')
        assert.ok(Number(res.headers.get('retry-after')) > 0)
      }
    }
    assert.equal(created, 12, 'twelve conversations an hour, the direct one included')
    const again = await api(broker.httpUrl, 'POST', '/api/v1/conversations', { kind: 'direct', members: ['erin'] }, dan)
    assert.deepEqual([again.status, again.body.cid], [200, direct])
  })

  it('pages the conversation list with a cursor, every conversation once', async () => {
    const dan = (await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'dan', password: 'pw-dan-12345' })).body.token as string
    const all = (await api(broker.httpUrl, 'GET', '/api/v1/conversations?limit=500', undefined, dan)).body
    assert.equal(all.next, undefined)
    assert.ok(all.conversations.length >= 10, `dan is in ${all.conversations.length} conversations`)
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await api(broker.httpUrl, 'GET', `/api/v1/conversations?limit=3${cursor ? `&cursor=${cursor}` : ''}`, undefined, dan)
      assert.equal(page.status, 200)
      assert.ok(page.body.conversations.length <= 3)
      seen.push(...page.body.conversations.map((c: { cid: string }) => c.cid))
      cursor = page.body.next
      pages++
    } while (cursor)
    assert.equal(pages, Math.ceil(all.conversations.length / 3))
    assert.deepEqual(seen, all.conversations.map((c: { cid: string }) => c.cid))
    assert.equal(new Set(seen).size, seen.length)
    assert.equal((await api(broker.httpUrl, 'GET', '/api/v1/conversations?limit=501', undefined, dan)).status, 400)
  })
})

describe('MQTT resource limits', () => {
  let broker: TestBroker
  const clients: MqttClient[] = []
  const client = async (clientId: string): Promise<MqttClient> => {
    const c = await connectClient(broker.mqttUrl, { clientId })
    clients.push(c)
    return c
  }
  before(async () => {
    broker = await startTestBroker({ ANONYMOUS_NAMESPACE: '#', MAX_SUBSCRIPTIONS_PER_CLIENT: 5, RETAINED_MAX_MESSAGES: 3, RETAINED_MAX_BYTES: 100 })
  })
  after(async () => {
    await Promise.all(clients.map(async (c) => { await c.endAsync(true) }))
    await broker.stop()
  })

  it('refuses subscriptions past MAX_SUBSCRIPTIONS_PER_CLIENT with SUBACK 0x80 and keeps the others', async () => {
    const c = await client('many-subs')
    assert.deepEqual(await subscribeCodes(c, ['s/1', 's/2', 's/3']), [1, 1, 1])
    assert.deepEqual(await subscribeCodes(c, ['s/3', 's/4', 's/5', 's/6', 's/7']), [1, 1, 1, 128, 128], 'a re-subscribe takes no new place')
    await c.unsubscribeAsync('s/1')
    assert.deepEqual(await subscribeCodes(c, ['s/6']), [1])
    const other = await client('other-subs')
    assert.deepEqual(await subscribeCodes(other, ['s/1', 's/2', 's/3', 's/4', 's/5']), [1, 1, 1, 1, 1], 'the limit is per connection')
    const refused = await broker.server.metrics.limitRefusals.get()
    assert.equal(refused.values.find((v) => v.labels.limit === 'subscriptions')?.value, 2)
  })

  it('keeps at most RETAINED_MAX_MESSAGES retained messages and RETAINED_MAX_BYTES, delivering the rest live only', async () => {
    const publisher = await client('retainer')
    const live = await client('live-listener')
    await live.subscribeAsync('r/#', { qos: 1 })
    const heard = collect(live)
    for (const n of [1, 2, 3]) await publisher.publishAsync(`r/${n}`, `v${n}`, { qos: 1, retain: true })
    await publisher.publishAsync('r/4', 'v4', { qos: 1, retain: true }) // one too many
    await publisher.publishAsync('r/1', 'x'.repeat(60), { qos: 1, retain: true }) // replaces r/1: within 100 bytes
    await publisher.publishAsync('r/2', 'y'.repeat(60), { qos: 1, retain: true }) // would make 122 bytes
    // Live copies carry retain=0. (aedes sends a new subscription's retained messages after its
    // SUBACK, so a message published at that moment may also come once as a retained copy.)
    const liveCopies = (): typeof heard => heard.filter((m) => !m.retain)
    await waitFor(() => liveCopies().length >= 6, 3000, 'every message delivered live')
    assert.deepEqual(liveCopies().map((m) => m.topic), ['r/1', 'r/2', 'r/3', 'r/4', 'r/1', 'r/2'])
    assert.ok(publisher.connected, 'the publisher is not disconnected')

    const later = await client('late-subscriber')
    const retained = collect(later)
    await later.subscribeAsync('r/#', { qos: 1 })
    await waitFor(() => retained.length === 3, 3000, 'three retained messages')
    assert.deepEqual(retained.map((m) => [m.topic, m.payload.length, m.retain]).sort(), [['r/1', 60, true], ['r/2', 2, true], ['r/3', 2, true]])

    // clearing one makes room
    await publisher.publishAsync('r/3', '', { qos: 1, retain: true })
    await publisher.publishAsync('r/4', 'v4', { qos: 1, retain: true })
    const last = await client('last-subscriber')
    const kept = collect(last)
    await last.subscribeAsync('r/4', { qos: 1 })
    await waitFor(() => kept.length === 1, 3000, 'r/4 retained now')
    const refused = await broker.server.metrics.limitRefusals.get()
    assert.equal(refused.values.find((v) => v.labels.limit === 'retained')?.value, 2)
  })
})

describe('retained messages: a share of the store per publisher', () => {
  let broker: TestBroker
  const clients: MqttClient[] = []
  const from = async (localAddress: string, clientId: string): Promise<MqttClient> => {
    const c = await connectClientFrom(broker.server.ports.mqtt, localAddress, { clientId })
    clients.push(c)
    return c
  }
  /** The retained messages a new subscriber to `filter` gets, as [topic, payload length]. */
  const retainedUnder = async (filter: string, expected: number): Promise<Array<[string, number]>> => {
    const c = await connectClient(broker.mqttUrl, { clientId: `look-${filter.replace(/\W/g, '')}-${clients.length}` })
    clients.push(c)
    const got = collect(c)
    await c.subscribeAsync(filter, { qos: 1 })
    await waitFor(() => got.length >= expected, 3000, `${expected} retained messages under ${filter}`)
    // a round trip on the same connection: anything else retained would have come by now
    await c.subscribeAsync('barrier/none', { qos: 1 })
    return got.filter((m) => m.retain).map((m): [string, number] => [m.topic, m.payload.length]).sort()
  }
  before(async () => {
    broker = await startTestBroker({ ANONYMOUS_NAMESPACE: '#', RETAINED_MAX_MESSAGES: 20, RETAINED_MAX_PER_CLIENT: 5, RETAINED_MAX_BYTES_PER_CLIENT: 1000 })
  })
  after(async () => {
    await Promise.all(clients.map(async (c) => { await c.endAsync(true) }))
    await broker.stop()
  })

  it('keeps at most RETAINED_MAX_PER_CLIENT of one address\'s retained messages, whatever its client ids, delivers the rest live, and leaves the store to others', async () => {
    const listener = await connectClient(broker.mqttUrl, { clientId: 'share-listener' })
    clients.push(listener)
    await listener.subscribeAsync('flood/#', { qos: 1 })
    const heard = collect(listener)
    const flooder = await from('127.0.0.1', 'flood-1')
    for (let n = 1; n <= 30; n++) await flooder.publishAsync(`flood/${n}`, `v${n}`, { qos: 1, retain: true })
    // a fresh client id from the same address draws on the same share
    const again = await from('127.0.0.1', 'flood-2')
    for (let n = 31; n <= 35; n++) await again.publishAsync(`flood/${n}`, `v${n}`, { qos: 1, retain: true })
    await waitFor(() => heard.filter((m) => !m.retain).length >= 35, 3000, 'every message delivered live')
    assert.ok(flooder.connected && again.connected, 'the publishers are not disconnected')
    assert.deepEqual(await retainedUnder('flood/#', 5), [1, 2, 3, 4, 5].map((n): [string, number] => [`flood/${n}`, 2]))

    // another address still has its whole share, although the flood came first
    const other = await from('127.0.0.2', 'other')
    for (let n = 1; n <= 5; n++) await other.publishAsync(`other/${n}`, `o${n}`, { qos: 1, retain: true })
    assert.equal((await retainedUnder('other/#', 5)).length, 5)

    // replacing one's own takes no new place; clearing one makes room for another
    await flooder.publishAsync('flood/1', 'x'.repeat(10), { qos: 1, retain: true })
    await flooder.publishAsync('flood/2', '', { qos: 1, retain: true })
    await flooder.publishAsync('flood/36', 'v36', { qos: 1, retain: true })
    assert.deepEqual((await retainedUnder('flood/#', 5)).map(([t]) => t), ['flood/1', 'flood/3', 'flood/36', 'flood/4', 'flood/5'])

    // bytes count too: 600 + 600 passes a share of 1,000 bytes
    const big = await from('127.0.0.3', 'big')
    await big.publishAsync('big/1', 'b'.repeat(600), { qos: 1, retain: true })
    await big.publishAsync('big/2', 'b'.repeat(600), { qos: 1, retain: true })
    assert.deepEqual(await retainedUnder('big/#', 1), [['big/1', 600]])

    const refused = await broker.server.metrics.limitRefusals.get()
    assert.equal(refused.values.find((v) => v.labels.limit === 'retained-per-client')?.value, 31)
    assert.equal(refused.values.find((v) => v.labels.limit === 'retained')?.value, undefined, 'the whole store never filled')
  })
})
