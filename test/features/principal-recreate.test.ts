/**
 * A uid deleted and created again is a new principal: no token issued before the deletion works
 * again (revoked or not, over HTTP and MQTT, after a restart, on another node whose cache held the
 * old record), and the new principal finds nothing of the old one's conversations — not in its
 * list, not in their history, not as MQTT events, not in a persistent session the old one left.
 * With several nodes, the deletion closes the principal's connections on every node at once.
 * [IM-AUTH-8] [IM-AUTH-6]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { hashSecret } from '../../broker/auth/passwords.js'
import type { ConfigInput } from '../../broker/config/schema.js'
import { openLevel } from '../../broker/store/level/open.js'
import { LevelPrincipalStore } from '../../broker/store/level/principal-store.js'
import type { ServerEvent } from '../../shared/protocol.js'
import { topics } from '../../shared/topics.js'
import { JWT_SECRET, startTestBroker, tempDataDir, type TestBroker } from '../helpers/broker.js'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'
import { adminToken, api, createUser, type Principal } from '../helpers/http.js'
import { createConversation, join, participant } from '../helpers/im.js'
import { closedByBroker, connackCode, connectClient, openSession, sleep } from '../helpers/mqtt.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'

/** How long to keep listening after the expected messages, to catch strays. */
const SETTLE_MS = 300

const refusedEverywhere = async (base: string, mqttUrl: string, uid: string, tokens: string[]): Promise<void> => {
  for (const token of tokens) {
    for (const path of ['/api/v1/me', '/api/v1/conversations', '/api/v1/admin/principals']) {
      const res = await api(base, 'GET', path, undefined, token)
      assert.equal(res.status, 401, `${path} with a token of the deleted ${uid}`)
      assert.equal(res.body.error.code, 'IM_ERR_UNAUTHENTICATED')
    }
    assert.equal(await connackCode(mqttUrl, { username: uid, password: token }), 5, `MQTT CONNECT with a token of the deleted ${uid}`)
  }
}

const recreate = async (base: string, admin: string, uid: string, role: 'user' | 'admin'): Promise<Principal> => {
  const deleted = await api(base, 'DELETE', `/api/v1/admin/principals/${uid}`, undefined, admin)
  assert.equal(deleted.status, 200)
  return await createUser(base, admin, uid, role)
}

describe('a uid deleted and created again', () => {
  let broker: TestBroker
  let admin: string
  before(async () => {
    broker = await startTestBroker()
    admin = await adminToken(broker.httpUrl)
  })
  after(async () => { await broker.stop() })

  it('refuses the old principal\'s tokens, also one revoked before the deletion, over HTTP and MQTT, also after a restart', async () => {
    const first = await createUser(broker.httpUrl, admin, 'rv4')
    assert.equal((await api(broker.httpUrl, 'POST', '/api/v1/admin/principals/rv4/revoke-tokens', {}, admin)).status, 200)
    const revoked = first.token
    const old = (await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'rv4', password: 'pw-rv4-12345' })).body.token as string
    assert.equal((await api(broker.httpUrl, 'GET', '/api/v1/me', undefined, old)).status, 200)
    assert.equal((await api(broker.httpUrl, 'GET', '/api/v1/me', undefined, revoked)).status, 401)

    const again = await recreate(broker.httpUrl, admin, 'rv4', 'admin')
    const me = await api(broker.httpUrl, 'GET', '/api/v1/me', undefined, again.token)
    assert.equal(me.status, 200)
    assert.equal(me.body.role, 'admin')
    await refusedEverywhere(broker.httpUrl, broker.mqttUrl, 'rv4', [old, revoked])
    assert.equal(await connackCode(broker.mqttUrl, { username: 'rv4', password: again.token }), 0)

    // The incarnation is in the store: a restarted broker refuses the old tokens as well.
    await broker.server.close()
    broker = await startTestBroker({}, broker.dataDir)
    await refusedEverywhere(broker.httpUrl, broker.mqttUrl, 'rv4', [old, revoked])
    assert.equal((await api(broker.httpUrl, 'GET', '/api/v1/admin/principals', undefined, again.token)).status, 200)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'rv4', password: again.token }), 0)
    admin = await adminToken(broker.httpUrl)
  })

  it('gives the new principal nothing of the old one\'s conversations: list, history, events, persistent session', async () => {
    const alice = await createUser(broker.httpUrl, admin, 'alice-r')
    await createUser(broker.httpUrl, admin, 'carol-r')
    const old = await createUser(broker.httpUrl, admin, 'rv5')
    const direct = await createConversation(broker.httpUrl, alice.token, 'direct', ['rv5'])
    const group = await createConversation(broker.httpUrl, alice.token, 'group', ['rv5', 'carol-r'], 'team')
    const a = await join(broker.mqttUrl, alice)
    let n = 0
    const send = async (cid: string): Promise<void> => {
      const cmid = `m-${++n}`
      await a.command({ op: 'send', cmid, cid, type: 'text', body: { text: `to rv5 #${n}` } })
      await a.next('msg', (e) => e.msg.cmid === cmid)
    }
    await send(direct)
    await send(group)
    // The old rv5's phone keeps a persistent session, and events are queued for it while it is away.
    const phone = await openSession(broker.mqttUrl, { username: 'rv5', password: old.token, clientId: 'rv5-phone', clean: false })
    await phone.client.subscribeAsync(topics.inbox('rv5'), { qos: 1 })
    await phone.client.endAsync()
    await send(direct)
    await send(group)

    const fresh = await recreate(broker.httpUrl, admin, 'rv5', 'user')
    const list = await api(broker.httpUrl, 'GET', '/api/v1/conversations', undefined, fresh.token)
    assert.equal(list.status, 200)
    assert.deepEqual(list.body.conversations, [])
    for (const cid of [direct, group]) {
      const history = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages`, undefined, fresh.token)
      assert.equal(history.status, 403, `history of ${cid}`)
      assert.equal(history.body.error.code, 'IM_ERR_NOT_MEMBER')
    }

    // Same client id, persistent: a new session, without the old one's queued events.
    const resumed = await openSession(broker.mqttUrl, { username: 'rv5', password: fresh.token, clientId: 'rv5-phone', clean: false })
    const rv5 = participant(resumed.client, fresh)
    await resumed.client.subscribeAsync(topics.inbox('rv5'), { qos: 1 })
    assert.equal(resumed.sessionPresent, false)
    await send(direct)
    await send(group)
    // A direct conversation with the new rv5 is a new one; its message does arrive.
    const created = await api(broker.httpUrl, 'POST', '/api/v1/conversations', { kind: 'direct', members: ['rv5'] }, alice.token)
    assert.equal(created.status, 201)
    assert.notEqual(created.body.cid, direct)
    await send(created.body.cid as string)
    await rv5.next('msg', (e) => e.msg.cid === created.body.cid)
    await sleep(SETTLE_MS)
    const strays = rv5.events.filter((e: ServerEvent) => e.ev !== 'conv' && !(e.ev === 'msg' && e.msg.cid === created.body.cid))
    assert.deepEqual(strays, [], 'no event of the old conversations')
    assert.equal(resumed.got.filter((m) => m.topic === topics.inbox('rv5') && JSON.parse(m.payload).msg?.cid === direct).length, 0)

    // The other members keep the old conversations and their history; rv5 is no longer in them.
    const kept = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${direct}/messages`, undefined, alice.token)
    assert.equal(kept.status, 200)
    assert.equal(kept.body.messages.length, 3)
    const members = (await api(broker.httpUrl, 'GET', `/api/v1/conversations/${group}`, undefined, alice.token)).body.members as Array<{ uid: string }>
    assert.deepEqual(members.map((m) => m.uid).sort(), ['alice-r', 'carol-r'])
    await Promise.all([a.close(), rv5.close()])
  })
})

describe('a uid deleted and created again, with two nodes on one MongoDB', () => {
  let mongo: MongoServer
  let redis: RedisServer
  let one: TestBroker
  let two: TestBroker
  before(async () => {
    [mongo, redis] = await Promise.all([startFerretDb(), startRedis()])
  }, { timeout: 15 * 60_000 }) // may build FerretDB first
  after(async () => {
    await redis?.stop()
    await mongo?.stop()
  })
  const startNodes = async (extra: Partial<ConfigInput> = {}): Promise<void> => {
    const settings = { STORE: 'mongodb' as const, MONGO_URL: mongo.url, MONGO_DB: uniqueDbName('recreate'), ...extra }
    one = await startTestBroker(settings, tempDataDir())
    two = await startTestBroker(settings, tempDataDir())
  }
  const stopNodes = async (): Promise<void> => {
    await one?.stop()
    await two?.stop()
  }

  it('never lets the old and the new incarnation\'s tokens both work, though the other node cached the old record and heard nothing', async () => {
    // no Redis: node two learns of the deletion from the store only, its cache ages out
    await startNodes()
    try {
      const admin = await adminToken(one.httpUrl)
      const old = await createUser(one.httpUrl, admin, 'nx')
      // node two reads (and caches) the old record
      assert.equal((await api(two.httpUrl, 'GET', '/api/v1/me', undefined, old.token)).status, 200)
      const fresh = await recreate(one.httpUrl, admin, 'nx', 'user')
      for (const node of [two, one]) {
        await refusedEverywhere(node.httpUrl, node.mqttUrl, 'nx', [old.token])
        assert.equal((await api(node.httpUrl, 'GET', '/api/v1/me', undefined, fresh.token)).status, 200)
        assert.equal(await connackCode(node.mqttUrl, { username: 'nx', password: fresh.token }), 0)
      }
    } finally { await stopNodes() }
  })

  it('closes the deleted principal\'s connections on every node, and refuses its token there at once', async () => {
    await startNodes({ CLUSTER_REDIS_URL: redis.url })
    try {
      const admin = await adminToken(one.httpUrl)
      const old = await createUser(one.httpUrl, admin, 'ny')
      const elsewhere = await connectClient(two.mqttUrl, { username: 'ny', password: old.token, clientId: 'ny-two' })
      assert.equal((await api(two.httpUrl, 'GET', '/api/v1/me', undefined, old.token)).status, 200) // cached on node two
      assert.equal((await api(one.httpUrl, 'DELETE', '/api/v1/admin/principals/ny', undefined, admin)).status, 200)
      await closedByBroker(elsewhere)
      assert.equal((await api(two.httpUrl, 'GET', '/api/v1/me', undefined, old.token)).status, 401, 'node two forgot its cached record')
      // and a revocation as well: the connection on the other node closes
      const other = await createUser(one.httpUrl, admin, 'nz')
      const live = await connectClient(two.mqttUrl, { username: 'nz', password: other.token, clientId: 'nz-two' })
      assert.equal((await api(one.httpUrl, 'POST', '/api/v1/admin/principals/nz/revoke-tokens', {}, admin)).status, 200)
      await closedByBroker(live)
      assert.equal((await api(two.httpUrl, 'GET', '/api/v1/me', undefined, other.token)).status, 401)
    } finally { await stopNodes() }
  })
})

describe('principals stored before incarnations existed', { skip: process.env.TEST_MONGO_URL ? 'writes an embedded store directly' : false }, () => {
  const createdAt = Date.now() - 3_600_000
  let broker: TestBroker
  let admin: string
  before(async () => {
    // A store as the previous version left it: a principal without an incarnation.
    const dataDir = tempDataDir()
    const db = await openLevel(dataDir)
    await new LevelPrincipalStore(db).create({ uid: 'veteran', role: 'user', passwordHash: await hashSecret('pw-veteran-12345'), grants: { presence: [], channels: [] }, createdAt, updatedAt: createdAt })
    await db.close()
    broker = await startTestBroker({}, dataDir)
    admin = await adminToken(broker.httpUrl)
  })
  after(async () => { await broker.stop() })

  /** a token as the previous version issued them: no `inc` claim */
  const oldStyleToken = async (iatSeconds: number): Promise<string> => await new SignJWT({ role: 'user' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('mqtt-im').setSubject('veteran').setIssuedAt(iatSeconds).setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(JWT_SECRET))

  it('keeps accepting its tokens from before, but not one issued before the record (an earlier life of the uid), nor any once the uid is created again', async () => {
    const issuedThen = await oldStyleToken(Math.floor(createdAt / 1000) + 60)
    const earlierLife = await oldStyleToken(Math.floor(createdAt / 1000) - 60)
    assert.equal((await api(broker.httpUrl, 'GET', '/api/v1/me', undefined, issuedThen)).status, 200)
    assert.equal(await connackCode(broker.mqttUrl, { username: 'veteran', password: issuedThen }), 0)
    await refusedEverywhere(broker.httpUrl, broker.mqttUrl, 'veteran', [earlierLife])
    const login = await api(broker.httpUrl, 'POST', '/api/v1/login', { uid: 'veteran', password: 'pw-veteran-12345' })
    assert.equal((await api(broker.httpUrl, 'GET', '/api/v1/me', undefined, login.body.token)).status, 200)

    const again = await recreate(broker.httpUrl, admin, 'veteran', 'user')
    await refusedEverywhere(broker.httpUrl, broker.mqttUrl, 'veteran', [issuedThen, login.body.token as string])
    // a token without the claim is refused for a principal created since, even one issued after it
    await refusedEverywhere(broker.httpUrl, broker.mqttUrl, 'veteran', [await oldStyleToken(Math.floor(Date.now() / 1000))])
    assert.equal((await api(broker.httpUrl, 'GET', '/api/v1/me', undefined, again.token)).status, 200)
  })
})
