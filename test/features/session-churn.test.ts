/**
 * A persistent session gets every message published to it, whatever the interleaving of its
 * reconnects: bob's session (clean=false, one client id) reconnects every ~150 ms — half of the
 * time dropping its TCP stream, half closing with DISCONNECT, the next CONNECT sent without
 * waiting for the broker to see the close (a takeover when it has not) — while alice sends him
 * chat messages, each acknowledged. Every message reaches one of bob's connections (QoS 1 may
 * repeat one: counted by id) without waiting for a further reconnect, and alice gets each echo.
 * [IM-Q-1] [MQTT-4.4.0-1] (issue 16, item 10)
 *
 * The races it runs into are timing-dependent: test/contracts/mqtt-queue.contract.ts replays the
 * one that lost a message (a live copy asked about between the stream's read of its queued copy
 * and aedes' send of it) step by step, on both stores.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { churnRound, historyOf } from '../helpers/churn.js'
import { adminToken, createUser, type Principal } from '../helpers/http.js'
import { createConversation, join, type Participant } from '../helpers/im.js'
import { waitFor } from '../helpers/mqtt.js'

const ROUNDS = 3
const MESSAGES = 300

describe('a persistent session under churn', () => {
  let broker: TestBroker
  let alice: Principal
  let bob: Principal
  let sender: Participant
  before(async () => {
    // one user sends 300 commands and one client id connects ~20 times a round: above the defaults
    broker = await startTestBroker({ COMMANDS_PER_SECOND: 10_000, COMMAND_BURST: 10_000, CONNECTS_PER_IP_PER_MINUTE: 100_000 })
    const admin = await adminToken(broker.httpUrl)
    alice = await createUser(broker.httpUrl, admin, 'alice')
    bob = await createUser(broker.httpUrl, admin, 'bob')
    sender = await join(broker.mqttUrl, alice)
  })
  after(async () => {
    await sender?.close()
    await broker?.stop()
  })

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: every acknowledged message reaches the reconnecting session, and its echo the sender`, async () => {
      const cid = await createConversation(broker.httpUrl, alice.token, 'direct', ['bob'])
      const earlier = (await historyOf(broker.httpUrl, alice.token, cid)).length
      const result = await churnRound({
        sender: { who: alice, client: sender.client }, receiver: bob, clientId: `bob-churn-${round}`, cid, messages: MESSAGES, paceMs: 15,
        urlOf: () => broker.mqttUrl
      })
      try {
        const history = (await historyOf(broker.httpUrl, alice.token, cid)).slice(earlier)
        assert.equal(history.length, MESSAGES, 'every send stored once')
        const missing = (): number[] => history.filter((m) => !result.received.has(m.id)).map((m) => m.seq)
        const unechoed = (): number[] => history.filter((m) => !result.echoed.has(m.id)).map((m) => m.seq)
        // on the connection that stays up: no further reconnect
        await waitFor(() => missing().length === 0 && unechoed().length === 0, 10_000, 'every message on bob\'s last connection and every echo').catch(() => undefined)
        assert.deepEqual({ missing: missing(), unechoed: unechoed() }, { missing: [], unechoed: [] }, `seqs not received after ${result.connections} connections`)
      } finally {
        await result.end()
      }
    })
  }
})
