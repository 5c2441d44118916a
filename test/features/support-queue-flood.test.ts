/**
 * The agents' queue under a flood of bot visitors, over real HTTP and MQTT: 400 bots from 40
 * networks (each within its share of new visitors) open support chats and write nothing; a real
 * visitor who writes ranks ahead of all of them — in its queue position, in the queue agents are
 * shown and in routing — also ahead of bots that write only after it did; and the queue comes a
 * page at a time, by cursor, instead of all at once. [IM-SUPPORT-RANK] [IM-SUPPORT-PAGE]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Conversation } from '../../shared/protocol.js'
import { api, createUser } from '../helpers/http.js'
import { join } from '../helpers/im.js'
import { DeskFixture, lastQueue, nextAfter, onDuty, openChat, waitPosition } from '../helpers/support.js'

// 400 on the embedded store; 200 on MongoDB, where FerretDB (no index, a round trip per step)
// would take the runner's whole per-file timeout for 400 — four pages of 50 either way
const BOTS = process.env.TEST_MONGO_URL ? 200 : 400
const NETWORKS = 40

interface Bot { uid: string, token: string, cid: string }
interface QueuePage { waiting: Conversation[], total: number, silent: number, next?: string }

/** A page of `GET /api/v1/support/queue`, with the size of its body. */
async function queuePage (base: string, token: string, query = ''): Promise<QueuePage & { bytes: number }> {
  const res = await fetch(`${base}/api/v1/support/queue${query}`, { headers: { authorization: `Bearer ${token}` } })
  const text = await res.text()
  assert.equal(res.status, 200, text)
  return { ...JSON.parse(text) as QueuePage, bytes: Buffer.byteLength(text) }
}

/** A bot: a new visitor from `network` (behind the trusted proxy) that opens a chat and writes nothing. */
async function bot (base: string, siteKey: string, network: number, n: number): Promise<Bot> {
  const res = await fetch(`${base}/api/v1/visitors`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.${network}.${n % 250 + 1}` },
    body: JSON.stringify({ siteKey })
  })
  assert.equal(res.status, 200, `bot ${network}/${n}: ${res.status}`)
  const visitor = await res.json() as { uid: string, token: string }
  const { conv } = await openChat(base, visitor, {
    url: `https://shop.example/products/${n}?utm_source=campaign-${network}`,
    referrer: 'https://search.example/?q=cheap+shoes',
    locale: 'en-US',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'
  })
  return { ...visitor, cid: conv.cid }
}

describe('the support queue under a flood of bots', () => {
  let desk: DeskFixture
  let bots: Bot[]
  let agentToken: string
  before(async () => {
    desk = await DeskFixture.start({ TRUST_PROXY: '127.0.0.1' }) // every other limit at its default
    agentToken = (await createUser(desk.http, desk.admin, 'agent-q', 'agent')).token
    bots = []
    // 40 networks × 10 bots, 20 at a time, no agent online: they all wait
    for (let i = 0; i < BOTS; i += 20) {
      bots.push(...await Promise.all(Array.from({ length: 20 }, async (_, k) => await bot(desk.http, desk.siteKey, (i + k) % NETWORKS, i + k))))
    }
  })
  after(async () => { await desk.stop() })

  it('puts a visitor who wrote ahead of 400 silent bots and of bots that write after it, in its position, the agents\' queue and routing', async () => {
    const { v, cid } = await desk.queued({ name: 'Carol', url: 'https://shop.example/cart' })
    await v.command({ op: 'send', cmid: 'help-1', cid, type: 'text', body: { text: 'My order did not arrive' } }) // acknowledged: stored
    await v.next('msg', (e) => e.msg.cmid === 'help-1')
    await waitPosition(v, cid, 1)

    // 50 bots write now, after the visitor: they rank behind it, ahead of the silent ones
    const writers = bots.slice(0, 50)
    for (const b of writers) {
      const p = desk.track(await join(desk.broker.mqttUrl, { ...b, role: 'visitor' }))
      await p.command({ op: 'send', cmid: `spam-${b.uid}`, cid: b.cid, type: 'text', body: { text: 'hello' } }) // acknowledged: ranked
    }

    const head = await queuePage(desk.http, agentToken, '?limit=5')
    assert.deepEqual([head.total, head.silent], [BOTS + 1, BOTS - 50])
    assert.equal(head.waiting[0]?.cid, cid, 'the visitor who wrote first heads the queue')
    assert.ok(head.waiting[0]?.support?.wroteAt !== undefined)
    assert.deepEqual(head.waiting.slice(1).map((c) => c.cid), writers.slice(0, 4).map((b) => b.cid), 'bots that wrote later follow, in the order they wrote')
    assert.equal(lastQueue(v, cid)?.position, 1, 'the visitor is still first')

    // an agent comes online with one slot: it gets the visitor, not the oldest bot
    const agent = await onDuty(desk.broker.mqttUrl, { uid: 'agent-q', token: agentToken, role: 'agent' }, 1)
    desk.track(agent)
    const assigned = await agent.next('conv', (e) => e.type === 'assigned')
    assert.equal(assigned.conv.cid, cid)
    await v.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)

    // what the agent is shown: the head of the queue, writers first, and the counts of the whole
    const shown = await nextAfter(agent, 0, 'support-queue', (e) => e.total === BOTS)
    assert.deepEqual(shown.waiting.map((w) => w.cid), writers.slice(0, 20).map((b) => b.cid), 'twenty, writers first')
    assert.ok(shown.waiting.every((w) => w.wrote))
    assert.equal(shown.silent, BOTS - 50)
  })

  it('answers the queue a page at a time: each chat once, in order, by cursor, a fraction of the whole', async () => {
    const seen: Conversation[] = []
    let bytes = 0
    let pages = 0
    let query = '?limit=50'
    for (;;) {
      const page = await queuePage(desk.http, agentToken, query)
      assert.ok(page.waiting.length <= 50)
      seen.push(...page.waiting)
      bytes += page.bytes
      pages++
      if (!page.next) break
      query = `?limit=50&after=${encodeURIComponent(page.next)}`
    }
    assert.equal(pages, BOTS / 50)
    assert.equal(new Set(seen.map((c) => c.cid)).size, BOTS, 'every waiting chat once')
    const wrote = seen.map((c) => c.support?.wroteAt !== undefined)
    assert.deepEqual(wrote, [...new Array<boolean>(50).fill(true), ...new Array<boolean>(BOTS - 50).fill(false)], 'the 50 bots that wrote first')
    const silent = seen.slice(50).map((c) => c.support!.queuedAt)
    assert.deepEqual(silent, [...silent].sort((a, b) => a - b), 'the silent ones oldest first')

    const firstPage = await queuePage(desk.http, agentToken)
    assert.equal(firstPage.waiting.length, 20, 'twenty by default')
    assert.ok(firstPage.bytes * (BOTS / 40) < bytes, `a page (20 of ${BOTS}) is ${firstPage.bytes} bytes, the whole queue ${bytes}`)
    assert.equal((await api(desk.http, 'GET', '/api/v1/support/queue?limit=500', undefined, agentToken)).status, 400, 'at most 100 a page')
    assert.equal((await api(desk.http, 'GET', '/api/v1/support/queue?after=nonsense', undefined, agentToken)).status, 400)
    assert.equal((await api(desk.http, 'GET', '/api/v1/support/queue', undefined, bots[0]!.token)).status, 403, 'not for visitors')
  })
})
