/**
 * A persistent session gets every message published to it while it hops between two nodes:
 * bob's session (clean=false, one client id) reconnects every ~150 ms, alternately to node A and
 * node B — half of the time dropping its TCP stream, half closing with DISCONNECT, the next
 * CONNECT sent without waiting for the old node to see the close (a takeover across nodes when
 * it has not) — while alice, on node A, sends him chat messages, each acknowledged. Every message
 * reaches one of bob's connections (counted by id: QoS 1 may repeat one) without waiting for a
 * further reconnect, and alice gets each echo. Both nodes run in this process on one MongoDB
 * (FerretDB, or `MONGO_URL`) and one Redis. [IM-Q-1] (issue 16, item 10)
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ConfigInput } from '../../broker/config/schema.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { churnRound, historyOf } from '../helpers/churn.js'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'
import { adminToken, createUser, type Principal } from '../helpers/http.js'
import { createConversation, join, type Participant } from '../helpers/im.js'
import { waitFor } from '../helpers/mqtt.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'

const ROUNDS = 2
const MESSAGES = 300

describe('a persistent session under churn across two nodes', () => {
  let mongo: MongoServer
  let redis: RedisServer
  let a: TestBroker
  let b: TestBroker
  let alice: Principal
  let bob: Principal
  let sender: Participant
  before(async () => {
    mongo = await startFerretDb()
    redis = await startRedis()
    // one user sends 300 commands and one client id connects many times a round: above the defaults
    const settings: Partial<ConfigInput> = {
      STORE: 'mongodb', MONGO_URL: mongo.url, MONGO_DB: uniqueDbName('churn'), CLUSTER_REDIS_URL: redis.url,
      COMMANDS_PER_SECOND: 10_000, COMMAND_BURST: 10_000, CONNECTS_PER_IP_PER_MINUTE: 100_000
    }
    a = await startTestBroker(settings)
    b = await startTestBroker(settings)
    const admin = await adminToken(a.httpUrl)
    alice = await createUser(a.httpUrl, admin, 'alice')
    bob = await createUser(a.httpUrl, admin, 'bob')
    sender = await join(a.mqttUrl, alice)
  })
  after(async () => {
    await sender?.close()
    await a?.stop()
    await b?.stop()
    await redis?.stop()
    await mongo?.stop()
  })

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: every acknowledged message reaches the session hopping between nodes, and its echo the sender`, async () => {
      const cid = await createConversation(a.httpUrl, alice.token, 'direct', ['bob'])
      const earlier = (await historyOf(a.httpUrl, alice.token, cid)).length
      const result = await churnRound({
        sender: { who: alice, client: sender.client }, receiver: bob, clientId: `bob-hop-${round}`, cid, messages: MESSAGES,
        paceMs: 15,
        urlOf: (n) => (n % 2 === 0 ? a : b).mqttUrl
      })
      try {
        const history = (await historyOf(a.httpUrl, alice.token, cid)).slice(earlier)
        assert.equal(history.length, MESSAGES, 'every send stored once')
        const missing = (): number[] => history.filter((m) => !result.received.has(m.id)).map((m) => m.seq)
        const unechoed = (): number[] => history.filter((m) => !result.echoed.has(m.id)).map((m) => m.seq)
        await waitFor(() => missing().length === 0 && unechoed().length === 0, 10_000, 'every message on bob\'s last connection and every echo').catch(() => undefined)
        assert.deepEqual({ missing: missing(), unechoed: unechoed() }, { missing: [], unechoed: [] }, `after ${result.connections} connections`)
      } finally {
        await result.end()
      }
    })
  }
})
