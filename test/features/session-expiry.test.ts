/**
 * Persistent sessions expire when nobody resumes them: a visitor's after
 * SESSION_EXPIRY_VISITOR_SECONDS, everyone else's after SESSION_EXPIRY_SECONDS; the sweep drops
 * the subscription, the queued events and, for an owner gone entirely, its retained presence.
 * A connected session never expires. A session that exists is reported present at CONNACK even
 * without subscriptions [MQTT-3.2.2-2]. [IM-SESSION-1]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { connect, type IClientOptions } from 'mqtt'
import type { ServerEvent } from '../../shared/protocol.js'
import { topics } from '../../shared/topics.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, defaultSiteKey, type Principal } from '../helpers/http.js'
import { createConversation, join } from '../helpers/im.js'
import { NO_RECONNECT, openSession, sleep, waitFor } from '../helpers/mqtt.js'

/** Connects and resolves with the CONNACK's Session Present flag and the client. */
async function connackOf (url: string, options: IClientOptions) {
  return await new Promise<{ sessionPresent: boolean, client: ReturnType<typeof connect> }>((resolve, reject) => {
    const client = connect(url, { ...NO_RECONNECT, ...options })
    client.once('connect', (connack) => resolve({ sessionPresent: connack.sessionPresent, client }))
    client.once('error', reject)
  })
}

describe('persistent session expiry', () => {
  let broker: TestBroker
  let admin: string
  let siteKey: string
  let alice: Principal
  before(async () => {
    // bob sends alice a backlog of 300 messages in one go: above the command rate's default
    broker = await startTestBroker({ SESSION_EXPIRY_VISITOR_SECONDS: 1, SESSION_EXPIRY_SECONDS: 3600, SESSION_SWEEP_SECONDS: 1, IDLE_RELEASE_MS: 60_000, COMMANDS_PER_SECOND: 10_000, COMMAND_BURST: 10_000 })
    admin = await adminToken(broker.httpUrl)
    siteKey = await defaultSiteKey(broker.httpUrl, admin)
    alice = await createUser(broker.httpUrl, admin, 'alice')
  })
  after(async () => { await broker.stop() })

  const expired = async (role: string): Promise<number> =>
    (await broker.server.metrics.sessionsExpired.get()).values.find((v) => v.labels.role === role)?.value ?? 0
  const retainedPresence = async (uid: string): Promise<number> => {
    let n = 0
    // read from the store itself: a subscriber would receive the presence its own connection announces
    const persistence = (broker.server.aedes as unknown as { persistence: { createRetainedStream (pattern: string): AsyncIterable<unknown> } }).persistence
    for await (const _ of persistence.createRetainedStream(topics.presence(uid))) n++
    return n
  }

  it('drops a visitor session nobody resumed: its queued events, its subscription and its retained presence', async () => {
    const visitor = (await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey })).body as Principal
    const clientId = `${visitor.uid}-t1`
    const first = await join(broker.mqttUrl, visitor, clientId, false)
    await first.close()
    await waitFor(async () => await retainedPresence(visitor.uid) === 1, 3000, 'the retained presence')
    // an event queued for the offline session: the chat it opened over HTTP
    const opened = await api(broker.httpUrl, 'POST', '/api/v1/support/conversations', {}, visitor.token)
    assert.equal(opened.status, 201)
    const before = await expired('visitor')
    await waitFor(async () => await expired('visitor') > before, 10_000, 'the visitor session to expire')
    // the sweep counts the session when it drops it, and clears presences after its pass
    await waitFor(async () => await retainedPresence(visitor.uid) === 0, 5000, 'the presence of a visitor gone for good to be dropped')

    const back = await connackOf(broker.mqttUrl, { username: visitor.uid, password: visitor.token, clientId, clean: false })
    try {
      assert.equal(back.sessionPresent, false, 'a new session')
      const events: ServerEvent[] = []
      back.client.on('message', (_topic, payload) => events.push(JSON.parse(payload.toString()) as ServerEvent))
      await back.client.subscribeAsync(topics.inbox(visitor.uid), { qos: 1 })
      await back.client.publishAsync(topics.outbox(visitor.uid), JSON.stringify({ op: 'typing', cid: opened.body.cid, on: true }), { qos: 1 })
      await api(broker.httpUrl, 'POST', '/api/v1/support/conversations', {}, visitor.token) // answered with the open chat: no event
      // A queued event is streamed right after CONNACK, ahead of any event published later; the
      // answer to one more command is published later than all of the above.
      await back.client.publishAsync(topics.outbox(visitor.uid), JSON.stringify({ op: 'typing', cid: 'no-such-conversation', on: true }), { qos: 1 })
      await waitFor(() => events.some((e) => e.ev === 'error' && e.op === 'typing'), 5000, 'the answer to the last command')
      assert.equal(events.filter((e) => e.ev === 'conv').length, 0, 'the queued conv event went with the session')
    } finally { await back.client.endAsync(true) }
  })

  it('keeps a user session past the visitor expiry, and reports it present even without subscriptions [MQTT-3.2.2-2]', async () => {
    const withSubs = await join(broker.mqttUrl, alice, 'alice-phone', false)
    await withSubs.close()
    const bare = await connackOf(broker.mqttUrl, { username: 'alice', password: alice.token, clientId: 'alice-bare', clean: false })
    assert.equal(bare.sessionPresent, false, 'the first connection makes the session')
    await bare.client.endAsync()
    await sleep(2500) // two sweeps and more than the visitor expiry
    for (const clientId of ['alice-phone', 'alice-bare']) {
      const back = await connackOf(broker.mqttUrl, { username: 'alice', password: alice.token, clientId, clean: false })
      assert.equal(back.sessionPresent, true, clientId)
      await back.client.endAsync()
    }
    // a clean connection discards the session [MQTT-3.1.2-6]
    const clean = await connackOf(broker.mqttUrl, { username: 'alice', password: alice.token, clientId: 'alice-bare', clean: true })
    await clean.client.endAsync()
    const after = await connackOf(broker.mqttUrl, { username: 'alice', password: alice.token, clientId: 'alice-bare', clean: false })
    assert.equal(after.sessionPresent, false)
    await after.client.endAsync()
  })

  it('discards a session before the CONNACK of a clean connection: a persistent one right after finds none, and is sent nothing of it [MQTT-3.1.2-6] [MQTT-3.2.2-2]', async () => {
    // A backlog makes the clean connection's queue long to stream: aedes says a connection is
    // ready (`clientReady`) only once it has streamed it, which used to be when the session was let go.
    const bob = await createUser(broker.httpUrl, admin, 'bob')
    const cid = await createConversation(broker.httpUrl, bob.token, 'direct', ['alice'])
    const device = await join(broker.mqttUrl, alice, 'alice-backlog', false)
    await device.close()
    const sender = await join(broker.mqttUrl, bob)
    try {
      await Promise.all(Array.from({ length: 8 }, async (_, lane) => {
        for (let i = lane; i < 300; i += 8) await sender.command({ op: 'send', cmid: `backlog-${i}`, cid, type: 'text', body: { text: `${i}` } })
      }))
    } finally { await sender.close() }

    const clean = await connackOf(broker.mqttUrl, { username: 'alice', password: alice.token, clientId: 'alice-backlog', clean: true })
    await clean.client.endAsync()
    const after = await openSession(broker.mqttUrl, { username: 'alice', password: alice.token, clientId: 'alice-backlog', clean: false })
    try {
      assert.equal(after.sessionPresent, false, 'the clean connection ended the session')
      await after.client.subscribeAsync(topics.inbox('alice'), { qos: 1 })
      // a queued event is streamed right after CONNACK, ahead of the answer to a later command
      await after.client.publishAsync(topics.outbox('alice'), JSON.stringify({ op: 'typing', cid: 'no-such-conversation', on: true }), { qos: 1 })
      await waitFor(() => after.got.some((m) => (JSON.parse(m.payload) as ServerEvent).ev === 'error'), 5000, 'the answer to the command')
      assert.equal(after.got.filter((m) => (JSON.parse(m.payload) as ServerEvent).ev === 'msg').length, 0, 'none of the discarded session\'s queue')
    } finally { await after.client.endAsync(true) }
  })

  it('never expires a connected session', async () => {
    const visitor = (await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey })).body as Principal
    const v = await join(broker.mqttUrl, visitor, `${visitor.uid}-t1`, false)
    try {
      await sleep(2500)
      const opened = await api(broker.httpUrl, 'POST', '/api/v1/support/conversations', {}, visitor.token)
      await v.next('conv', (e) => e.conv.cid === opened.body.cid)
      assert.equal(await retainedPresence(visitor.uid), 1)
    } finally { await v.close() }
  })
})
