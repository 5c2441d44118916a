/**
 * The support desk seen from outside, with real clients over real sockets: offline messages that
 * survive a broker crash and reach the first agent, the retained queue status as a plain MQTT
 * device (mosquitto_sub) sees it, and what visitors and agents may not do.
 * [IM-SUPPORT-OPEN], [IM-SUPPORT-QUEUE], [IM-SUPPORT-CLOSE]
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Conversation, ErrorEvent, Message, QueueStatus } from '../../shared/protocol.js'
import { adminToken, api, createUser, defaultSiteKey } from '../helpers/http.js'
import { join, type Participant } from '../helpers/im.js'
import { waitFor } from '../helpers/mqtt.js'
import { agentStates, assertOneOwner, conversation, DeskFixture, newVisitor, nextAfter, openChat, setStatus, waitPosition } from '../helpers/support.js'
import { RestartableBroker } from '../helpers/broker.js'

const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub'
const text = (cid: string, cmid: string, body: string): Record<string, unknown> => ({ op: 'send', cmid, cid, type: 'text', body: { text: body } })

/** The retained status on `im/b/support/queue` as the broker stores it: what a new subscriber gets first. */
async function retainedStatus (desk: DeskFixture): Promise<QueueStatus | undefined> {
  const persistence = (desk.broker.server.aedes as unknown as { persistence: { createRetainedStream (pattern: string): AsyncIterable<{ payload: Buffer }> } }).persistence
  let status: QueueStatus | undefined
  for await (const packet of persistence.createRetainedStream('im/b/support/queue')) status = JSON.parse(packet.payload.toString()) as QueueStatus
  return status
}

/** Sends a command and returns the error event it caused (commands of one principal run in order). */
async function refused (p: Participant, command: Record<string, unknown>): Promise<ErrorEvent> {
  const mark = p.events.length
  await p.command(command)
  return await nextAfter(p, mark, 'error', (e) => e.op === command.op)
}

describe('support offline messages across a restart', () => {
  const proc = new RestartableBroker()
  const open: Participant[] = []
  after(async () => {
    await Promise.all(open.map(async (p) => { await p.close() }))
    await proc.dispose()
  })

  it('stores what a visitor writes while no agent is online, through a kill -9, for the first agent who comes', async () => {
    let broker = await proc.start()
    let admin = await adminToken(broker.httpUrl)
    const siteKey = await defaultSiteKey(broker.httpUrl, admin)
    const visitor = await newVisitor(broker.httpUrl, siteKey)
    const v = await join(broker.mqttUrl, visitor)
    const { status, conv } = await openChat(broker.httpUrl, v, { locale: 'zh-CN', url: 'https://shop.example/checkout', name: '王芳' })
    assert.equal(status, 201)
    const cid = conv.cid
    const notice = await v.next('notice', (e) => e.cid === cid)
    assert.equal(notice.code, 'offline')
    assert.equal(notice.text, '目前没有客服在线。请在此留言，我们会尽快回复您。', 'localized for zh-CN')
    // The same notice in English for an English page.
    const english = await newVisitor(broker.httpUrl, siteKey)
    const e = await join(broker.mqttUrl, english)
    open.push(e)
    const { conv: enConv } = await openChat(broker.httpUrl, e, { locale: 'en-GB' })
    const enNotice = await e.next('notice', (n) => n.cid === enConv.cid)
    assert.equal(enNotice.code, 'offline')
    assert.match(enNotice.text, /^No agent is available right now/)

    const written = ['你好，有人在吗？', '我的订单 #4711 还没有发货。', '请尽快回复，谢谢！']
    for (const [i, body] of written.entries()) {
      await v.command(text(cid, `offline-${i}`, body))
      await v.next('msg', (m) => m.msg.cmid === `offline-${i}`) // stored: the echo comes after storage
    }
    await proc.kill('SIGKILL')
    await v.close()
    await e.close()

    broker = await proc.start()
    admin = await adminToken(broker.httpUrl)
    const agent = await createUser(broker.httpUrl, admin, 'agent-first', 'agent')
    const a = await join(broker.mqttUrl, agent)
    open.push(a)
    await setStatus(a, 'online', 2)
    const assigned = await a.next('conv', (ev) => ev.type === 'assigned' && ev.conv.cid === cid)
    assert.equal(assigned.conv.support?.context.locale, 'zh-CN')
    assert.equal(assigned.conv.support?.context.name, '王芳')
    const history = await api<{ messages: Message[] }>(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=0`, undefined, agent.token)
    assert.equal(history.status, 200)
    assert.deepEqual(history.body.messages.map((m) => [m.seq, m.from, (m.body as { text: string }).text]),
      written.map((body, i) => [i + 1, visitor.uid, body]))

    // The visitor comes back and gets the answer.
    const back = await join(broker.mqttUrl, visitor)
    open.push(back)
    await a.command(text(cid, 'answer', '您好，我来帮您查一下。'))
    assert.equal((await back.next('msg', (m) => m.msg.cmid === 'answer')).msg.from, 'agent-first')
  })
})

describe('support queue status for a plain MQTT device', () => {
  const missing = !existsSync(MOSQUITTO_SUB)
  if (missing) console.warn(`\n!!! SKIPPING the device test: ${MOSQUITTO_SUB} is not installed (apt-get install mosquitto-clients) !!!\n`)
  let desk: DeskFixture
  let sub: ChildProcess | undefined
  before(async () => { desk = await DeskFixture.start() })
  after(async () => {
    if (sub && sub.exitCode === null && sub.signalCode === null) {
      const gone = new Promise((resolve) => sub!.once('exit', resolve))
      sub.kill('SIGTERM')
      await gone
    }
    await desk.stop()
  })

  it('gives mosquitto_sub, as a device granted support/queue, the retained {waiting, agentsOnline, longestWaitMs} and every change', { skip: missing && `${MOSQUITTO_SUB} missing` }, async () => {
    const secret = 'a-long-device-secret'
    const created = await api(desk.http, 'POST', '/api/v1/admin/principals', { uid: 'desk-light', role: 'device', secret, grants: { channels: ['support/queue'] } }, desk.admin)
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const { v: v1, cid: c1 } = await desk.queued()
    await waitPosition(v1, c1, 1)
    await waitFor(async () => (await retainedStatus(desk))?.waiting === 1, 5000, 'the retained status to count the waiting visitor')

    const port = new URL(desk.broker.mqttUrl).port
    sub = spawn(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', port, '-u', 'desk-light', '-P', secret, '-i', 'desk-light-1', '-q', '1', '-t', 'im/b/support/queue', '-F', '%r %p'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    sub.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const seen: Array<{ retained: boolean, status: QueueStatus }> = []
    createInterface({ input: sub.stdout! }).on('line', (line) => {
      const space = line.indexOf(' ')
      seen.push({ retained: line.slice(0, space) === '1', status: JSON.parse(line.slice(space + 1)) as QueueStatus })
    })
    const nth = async (n: number): Promise<{ retained: boolean, status: QueueStatus }> =>
      await waitFor(() => seen[n], 5000, `status message #${n + 1} from mosquitto_sub (stderr: ${stderr})`)

    // On subscribing: the retained status, one visitor waiting, nobody online.
    const first = await nth(0)
    assert.equal(first.retained, true)
    assert.deepEqual(Object.keys(first.status).sort(), ['agentsOnline', 'longestWaitMs', 'ts', 'waiting'])
    assert.equal(first.status.waiting, 1)
    assert.equal(first.status.agentsOnline, 0)
    assert.ok(typeof first.status.longestWaitMs === 'number' && first.status.longestWaitMs >= 0)

    // A second visitor queues: live update.
    const { v: v2, cid: c2 } = await desk.queued()
    await waitPosition(v2, c2, 2)
    const second = await nth(1)
    assert.equal(second.retained, false)
    assert.deepEqual([second.status.waiting, second.status.agentsOnline], [2, 0])

    // An agent with one slot comes online: it takes the head, one still waits.
    const a = await desk.agent('agent-light', 1)
    await a.next('conv', (ev) => ev.type === 'assigned' && ev.conv.cid === c1)
    const third = await waitFor(() => seen.find((s) => s.status.agentsOnline === 1), 5000, `a status with the agent online (got ${JSON.stringify(seen)})`)
    assert.equal(third.status.waiting, 1)
    assert.ok(third.status.longestWaitMs >= 0)
    const latest = await waitFor(() => seen.at(-1)?.status.waiting === 1 && seen.at(-1)?.status.agentsOnline === 1 ? seen.at(-1) : undefined, 5000, 'the latest status')
    assert.ok(latest.status.ts >= first.status.ts)

    // The agent's chat closes: the last visitor is assigned, nobody waits.
    await a.command({ op: 'support.close', cid: c1 })
    await a.next('conv', (ev) => ev.type === 'assigned' && ev.conv.cid === c2)
    const empty = await waitFor(() => seen.at(-1)?.status.waiting === 0 ? seen.at(-1) : undefined, 5000, `an empty queue (got ${JSON.stringify(seen)})`)
    assert.deepEqual([empty.status.agentsOnline, empty.status.longestWaitMs], [1, 0])
  })
})

describe('support bad input and chat lifecycle', () => {
  let desk: DeskFixture
  beforeEach(async () => { desk = await DeskFixture.start() })
  afterEach(async () => { await desk.stop() })

  it('refuses claims and transfers from visitors, messages to a closed chat, and ratings out of range or before close', async () => {
    const a = await desk.agent('agent-a', 2)
    const { v, cid } = await desk.queued()
    await a.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)

    assert.equal((await refused(v, { op: 'support.claim', cid })).code, 'IM_ERR_FORBIDDEN')
    assert.equal((await refused(v, { op: 'support.transfer', cid, to: 'agent-a' })).code, 'IM_ERR_FORBIDDEN')
    assert.equal((await refused(v, { op: 'support.transfer', cid })).code, 'IM_ERR_FORBIDDEN')
    assert.equal((await refused(v, { op: 'agent.status', status: 'online' })).code, 'IM_ERR_FORBIDDEN')
    assert.equal((await refused(v, { op: 'support.rate', cid, score: 5 })).code, 'IM_ERR_BAD_REQUEST', 'no rating while open')
    assert.equal((await refused(a, { op: 'support.claim', cid })).code, 'IM_ERR_ALREADY_ASSIGNED')
    assert.equal((await refused(a, { op: 'support.transfer', cid, to: 'nobody-here' })).code, 'IM_ERR_NOT_FOUND')
    assert.equal((await refused(a, { op: 'support.rate', cid, score: 5 })).code, 'IM_ERR_FORBIDDEN', 'only the visitor rates')
    const owner = await assertOneOwner(desk.http, desk.admin, [cid])
    assert.equal(owner.get(cid), 'agent-a', 'nothing changed hands')

    await a.command({ op: 'support.close', cid })
    assert.equal((await v.next('conv', (e) => e.type === 'closed' && e.conv.cid === cid)).conv.support?.closedReason, 'agent')
    const late = await refused(v, text(cid, 'too-late', 'one more thing'))
    assert.deepEqual([late.code, late.cmid], ['IM_ERR_CONVERSATION_CLOSED', 'too-late'])
    assert.equal((await refused(a, text(cid, 'agent-late', 'bye'))).code, 'IM_ERR_CONVERSATION_CLOSED')
    assert.equal((await refused(a, { op: 'support.claim', cid })).code, 'IM_ERR_CONVERSATION_CLOSED')

    for (const score of [7, 0, 4.5]) assert.equal((await refused(v, { op: 'support.rate', cid, score })).code, 'IM_ERR_BAD_REQUEST', `score ${score}`)
    assert.equal((await refused(a, { op: 'support.rate', cid, score: 5 })).code, 'IM_ERR_FORBIDDEN', 'only the visitor rates')
    await v.command({ op: 'support.rate', cid, score: 5, comment: 'quick and kind' })
    for (const p of [v, a]) {
      const rated = await p.next('conv', (e) => e.type === 'rated' && e.conv.cid === cid)
      assert.deepEqual(rated.conv.support?.rating, { score: 5, comment: 'quick and kind' })
    }
    assert.deepEqual((await conversation(desk.http, desk.admin, cid)).support?.rating, { score: 5, comment: 'quick and kind' })
    assert.deepEqual((await agentStates(desk.http, desk.admin)).get('agent-a')?.active, [])
  })

  it('refuses a transfer of a chat to the agent who has it, which would hold it twice', async () => {
    const a = await desk.agent('agent-a', 2)
    const { cid } = await desk.queued()
    await a.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)
    assert.equal((await refused(a, { op: 'support.transfer', cid, to: 'agent-a' })).code, 'IM_ERR_BAD_REQUEST')
    assert.equal(a.events.some((e) => e.ev === 'conv' && e.type === 'transferred'), false)
    await assertOneOwner(desk.http, desk.admin, [cid])
    assert.deepEqual((await agentStates(desk.http, desk.admin)).get('agent-a')?.active, [cid], 'one slot for one chat')
  })

  it('gives the chats of a deleted agent back to the queue, for another agent; the uid created again starts with none [IM-AUTH-8]', async () => {
    const a = await desk.agent('agent-gone', 2)
    const { v, cid } = await desk.queued()
    await a.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)
    const deleted = await api(desk.http, 'DELETE', '/api/v1/admin/principals/agent-gone', undefined, desk.admin)
    assert.equal(deleted.status, 200)
    await v.next('conv', (e) => e.type === 'transferred' && e.conv.cid === cid)
    assert.equal((await conversation(desk.http, desk.admin, cid)).support?.state, 'waiting', 'back in the queue')
    const b = await desk.agent('agent-b', 2)
    await b.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)
    await assertOneOwner(desk.http, desk.admin, [cid])
    const states = await agentStates(desk.http, desk.admin)
    assert.deepEqual(states.get('agent-b')?.active, [cid])
    assert.deepEqual(states.get('agent-gone')?.active ?? [], [], 'no slot left to the deleted agent')
  })

  it('gives a visitor one open chat per site, a new chat after close, and keeps the old history readable to the visitor and to agents', async () => {
    const a = await desk.agent('agent-a', 2)
    const v = await desk.visitor()
    // Opened five times at once, over HTTP and MQTT: one chat.
    const opens = await Promise.all([
      ...Array.from({ length: 4 }, async () => await openChat(desk.http, v, { url: 'https://shop.example/help' })),
      v.command({ op: 'support.open', context: { url: 'https://shop.example/help' } }).then(() => undefined)
    ])
    const http = opens.filter((o): o is { status: number, conv: Conversation } => o !== undefined)
    const cid = http[0]!.conv.cid
    assert.deepEqual(new Set(http.map((o) => o.conv.cid)), new Set([cid]))
    await v.next('conv', (e) => e.type === 'created')
    await a.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)
    const again = await openChat(desk.http, v)
    assert.deepEqual([again.status, again.conv.cid], [200, cid], 'the open chat comes back, with 200')
    assert.equal(v.events.filter((e) => e.ev === 'conv' && e.type === 'created').length, 1, 'created once')
    assert.ok(http.filter((o) => o.status === 201).length <= 1)

    await v.command(text(cid, 'old-1', 'where is my parcel?'))
    await a.next('msg', (e) => e.msg.cmid === 'old-1')
    await a.command(text(cid, 'old-2', 'it left the warehouse today'))
    await v.next('msg', (e) => e.msg.cmid === 'old-2')
    await a.command({ op: 'support.close', cid })
    await v.next('conv', (e) => e.type === 'closed' && e.conv.cid === cid)

    const reopened = await openChat(desk.http, v, { url: 'https://shop.example/returns' })
    assert.equal(reopened.status, 201)
    const newCid = reopened.conv.cid
    assert.notEqual(newCid, cid)
    assert.equal(reopened.conv.support?.state === 'waiting' || reopened.conv.support?.state === 'active', true)
    await a.next('conv', (e) => e.type === 'assigned' && e.conv.cid === newCid)
    await v.command(text(newCid, 'new-1', 'and now a return, please'))
    await a.next('msg', (e) => e.msg.cmid === 'new-1')

    const oldTexts = ['where is my parcel?', 'it left the warehouse today']
    const read = async (token: string, c: string): Promise<string[]> => {
      const res = await api<{ messages: Message[] }>(desk.http, 'GET', `/api/v1/conversations/${c}/messages?after=0`, undefined, token)
      assert.equal(res.status, 200, JSON.stringify(res.body))
      return res.body.messages.map((m) => (m.body as { text: string }).text)
    }
    assert.deepEqual(await read(v.token, cid), oldTexts, 'the visitor reads its old chat')
    assert.deepEqual(await read(v.token, newCid), ['and now a return, please'])

    // Another agent, never in either chat, finds the visitor's past chats and reads them.
    const other = await desk.agent('agent-b', 1, 'away')
    const past = await api<{ conversations: Conversation[] }>(desk.http, 'GET', `/api/v1/support/conversations?visitor=${v.uid}`, undefined, other.token)
    assert.equal(past.status, 200)
    assert.deepEqual(past.body.conversations.map((c) => [c.cid, c.support?.state]), [[newCid, 'active'], [cid, 'closed']])
    assert.equal(past.body.conversations[1]!.support?.context.url, 'https://shop.example/help')
    assert.deepEqual(await read(other.token, cid), oldTexts)
    const own = await api<{ conversations: Conversation[] }>(desk.http, 'GET', '/api/v1/support/conversations', undefined, v.token)
    assert.deepEqual(own.body.conversations.map((c) => c.cid), [newCid, cid])

    // A plain user may not look.
    const user = await createUser(desk.http, desk.admin, 'plain-user')
    assert.equal((await api(desk.http, 'GET', `/api/v1/support/conversations?visitor=${v.uid}`, undefined, user.token)).status, 403)
  })
})
