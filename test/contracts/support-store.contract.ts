/**
 * The contract every `SupportStore` must meet, whatever the database. Run it with a `build` that
 * returns a fresh, empty store (and a `close`). The desk routes from `queue` (visitors who wrote
 * first, each group FIFO by `queuedAt`, paged by cursor), sweeps `openCids` and finds a returning
 * visitor's chat with `openFor`, so a chat that stays listed after it closed, or is listed twice,
 * would be routed again. [IM-SUPPORT-OPEN] [IM-SUPPORT-CLOSE] [IM-SUPPORT-RANK] [IM-SUPPORT-PAGE]
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { CannedReply, QueueEntry, SupportStore } from '../../broker/store/ports.js'
import type { AgentState, Conversation, SupportInfo } from '../../shared/protocol.js'

export interface SupportStoreFixture {
  support: SupportStore
  /** Indexes `convs` open as a version before the queue was ranked did (no state, no rank), and opens a store on it as a broker started after the upgrade. */
  legacy?: (convs: Conversation[]) => Promise<SupportStore>
  close (): Promise<void>
}

/** A support chat of `visitor` on `site`, in `state`, queued at `queuedAt`. */
export const supportChat = (cid: string, queuedAt: number, state: SupportInfo['state'] = 'waiting', visitor = `v_${cid}`, site = 'site_a'): Conversation => ({
  cid,
  kind: 'support',
  members: [{ uid: visitor, role: 'member', joinedAt: queuedAt, readSeq: 0 }],
  createdAt: queuedAt,
  createdBy: visitor,
  lastSeq: 0,
  support: { site, visitor, state, context: {}, queuedAt, ...(state === 'active' ? { agent: 'ag1', assignedAt: queuedAt + 1 } : {}) }
})

/** `conv` once its visitor wrote. */
export const wrote = (conv: Conversation, at = conv.support!.queuedAt + 1): Conversation => ({ ...conv, lastSeq: conv.lastSeq + 1, support: { ...conv.support!, wroteAt: at } })
const closed = (conv: Conversation): Conversation => ({ ...conv, support: { ...conv.support!, state: 'closed', closedAt: 99, closedReason: 'visitor' } })
const requeued = (conv: Conversation, queuedAt: number): Conversation => ({ ...conv, support: { ...conv.support!, state: 'waiting', agent: undefined, queuedAt } })

const agent = (uid: string, extra: Partial<AgentState> = {}): AgentState =>
  ({ uid, status: 'online', capacity: 3, active: [], idleSince: 1, ...extra })

const canned = (id: string, owner: string | null, text = `text of ${id}`): CannedReply =>
  ({ id, owner, title: `title of ${id}`, text, createdAt: 1 })

/** Every entry of the queue, page by page of `size`. */
async function wholeQueue (s: SupportStore, size: number): Promise<QueueEntry[]> {
  const all: QueueEntry[] = []
  for (;;) {
    const page = await s.queue(size, all.at(-1))
    all.push(...page)
    if (page.length < size) return all
  }
}
const cidsOf = (entries: QueueEntry[]): string[] => entries.map((e) => e.cid)

const byUid = (agents: AgentState[]): AgentState[] => [...agents].sort((a, b) => a.uid.localeCompare(b.uid))
const byId = (replies: CannedReply[]): CannedReply[] => [...replies].sort((a, b) => a.id.localeCompare(b.id))

/**
 * Writes open chats, an agent, a seen time, the heartbeat and a canned reply through `first`,
 * then reads them and moves and closes the chats through the store `reopen` gives — the store of
 * a broker started later on the same database (a restart, or another node).
 */
export async function assertSurvivesReopen (first: SupportStore, reopen: () => Promise<SupportStore>): Promise<void> {
  const a = supportChat('a', 10)
  const b = supportChat('b', 20, 'active', 'v_b')
  const c = supportChat('c', 30, 'waiting', 'v_c')
  for (const conv of [a, b, c]) await first.indexOpen(conv)
  await first.putAgent({ uid: 'ag1', status: 'online', capacity: 2, idleSince: 20 })
  assert.equal(await first.takeSlot('ag1', 'b', 2, 20), true)
  await first.setSeen('v_c', 31)
  await first.setAliveAt(32)
  await first.putCanned({ id: 'hi', owner: null, title: 'Hi', text: 'Hello!', createdAt: 1 })

  const store = await reopen()
  assert.deepEqual(await store.openCids(), ['a', 'b', 'c'])
  assert.deepEqual(cidsOf(await store.queue(10)), ['a', 'c'], 'the queue: waiting chats only')
  assert.deepEqual(await store.queueCounts(), { total: 2, silent: 2 })
  assert.equal(await store.openFor('site_a', 'v_c'), 'c')
  assert.deepEqual((await store.getAgent('ag1'))?.active, ['b'])
  assert.equal(await store.seen('v_c'), 31)
  assert.equal(await store.aliveAt(), 32)
  assert.deepEqual((await store.listCanned()).map((r) => r.id), ['hi'])

  await store.indexOpen({ ...c, support: { ...c.support!, queuedAt: 5 } })
  assert.deepEqual(await store.openCids(), ['c', 'a', 'b'], 're-queued: moved, listed once')
  await store.indexOpen(wrote(a))
  assert.deepEqual(await store.queue(10), [{ cid: 'a', visitor: 'v_a', queuedAt: 10, wrote: true }, { cid: 'c', visitor: 'v_c', queuedAt: 5, wrote: false }])
  assert.deepEqual(await store.unranked(10), [])
  await store.indexOpen({ ...b, support: { ...b.support!, state: 'closed', closedAt: 40 } })
  assert.deepEqual(await store.openCids(), ['c', 'a'])
  assert.equal(await store.openFor('site_a', 'v_b'), undefined)
}

export function runSupportStoreContract (build: () => Promise<SupportStoreFixture>): void {
  /** Runs `test` against a fresh store and always closes it. */
  const withStore = (test: (s: SupportStore) => Promise<void>) => async () => {
    const fixture = await build()
    try { await test(fixture.support) } finally { await fixture.close() }
  }

  // ---- agents ----

  it('keeps, replaces and lists agents, each once', withStore(async (s) => {
    assert.equal(await s.getAgent('ag1'), undefined)
    assert.deepEqual(await s.listAgents(), [])
    await s.putAgent(agent('ag1'))
    await s.putAgent(agent('ag2', { status: 'away', autoAway: true, disconnectedAt: 7 }))
    assert.deepEqual(await s.getAgent('ag2'), agent('ag2', { status: 'away', autoAway: true, disconnectedAt: 7 }))

    const busy = agent('ag1', { capacity: 2, active: ['s_1', 's_2'], idleSince: 50 })
    await s.putAgent(busy)
    assert.deepEqual(await s.getAgent('ag1'), { ...busy, active: [] }, 'a record does not give slots')
    await s.takeSlot('ag1', 's_1', 2, 60)
    await s.takeSlot('ag1', 's_2', 2, 61)
    assert.deepEqual(await s.getAgent('ag1'), busy, 'the newest state replaces the old one')
    assert.deepEqual(byUid(await s.listAgents()), [busy, agent('ag2', { status: 'away', autoAway: true, disconnectedAt: 7 })])
    assert.equal(await s.getAgent('ag'), undefined, 'a uid another one starts with is another agent')
  }))

  // ---- the open index ----

  it('lists the open support chats oldest queuedAt first, in numeric order', withStore(async (s) => {
    assert.deepEqual(await s.openCids(), [])
    // Inserted out of order, and across 9→10, 99→100… so a text order of the numbers would show.
    const queuedAt: Record<string, number> = { late: 1_700_000_000_300, first: 5, middle: 1_700_000_000_100, second: 40, third: 300, fourth: 1000 }
    for (const [cid, at] of Object.entries(queuedAt)) await s.indexOpen(supportChat(cid, at, cid === 'second' ? 'active' : 'waiting'))
    assert.deepEqual(await s.openCids(), ['first', 'second', 'third', 'fourth', 'middle', 'late'], 'waiting and active chats alike')
  }))

  it('lists two chats queued in the same millisecond both', withStore(async (s) => {
    await s.indexOpen(supportChat('twin-b', 10))
    await s.indexOpen(supportChat('twin-a', 10))
    await s.indexOpen(supportChat('earlier', 9))
    const open = await s.openCids()
    assert.equal(open[0], 'earlier')
    assert.deepEqual(open.slice(1).sort(), ['twin-a', 'twin-b'])
  }))

  it('lists many chats indexed at once, each once, in queue order', withStore(async (s) => {
    const at = Array.from({ length: 60 }, (_, i) => 1000 + ((i * 37) % 60)) // a permutation of 1000..1059
    await Promise.all(at.map(async (queuedAt) => { await s.indexOpen(supportChat(`c${queuedAt}`, queuedAt)) }))
    assert.deepEqual(await s.openCids(), Array.from({ length: 60 }, (_, i) => `c${1000 + i}`))
  }))

  it('keeps a chat at its place when it becomes active, and moves it when it is queued again', withStore(async (s) => {
    const a = supportChat('a', 10)
    const b = supportChat('b', 20)
    const c = supportChat('c', 30)
    for (const conv of [a, b, c]) await s.indexOpen(conv)
    await s.indexOpen({ ...c, support: { ...c.support!, state: 'active', agent: 'ag1', assignedAt: 31 } })
    assert.deepEqual(await s.openCids(), ['a', 'b', 'c'], 'assigned: same place, listed once')
    // A transfer puts it back at the head of the queue, just before the oldest waiting chat.
    await s.indexOpen(requeued(c, 9))
    assert.deepEqual(await s.openCids(), ['c', 'a', 'b'], 'queued again: moved, listed once')
    await s.indexOpen(requeued(a, 40))
    assert.deepEqual(await s.openCids(), ['c', 'b', 'a'])
  }))

  it('takes a closed chat out of the open list, wherever it stood', withStore(async (s) => {
    const chats = [supportChat('a', 10), supportChat('b', 20, 'active'), supportChat('c', 30)]
    for (const conv of chats) await s.indexOpen(conv)
    await s.indexOpen(closed(chats[1]!))
    assert.deepEqual(await s.openCids(), ['a', 'c'])
    await s.indexOpen(requeued(chats[2]!, 5))
    await s.indexOpen(closed(requeued(chats[2]!, 5)))
    assert.deepEqual(await s.openCids(), ['a'], 'a re-queued chat closes from its new place')
    await s.indexOpen(closed(chats[0]!))
    assert.deepEqual(await s.openCids(), [])
    await s.indexOpen(closed(chats[0]!))
    await s.indexOpen(closed(supportChat('never-open', 1)))
    assert.deepEqual(await s.openCids(), [], 'closing twice, or a chat never indexed, changes nothing')
  }))

  it('leaves conversations that are not support chats out', withStore(async (s) => {
    const { support: _support, ...group } = supportChat('g1', 10)
    await s.indexOpen({ ...group, kind: 'group' })
    assert.deepEqual(await s.openCids(), [])
  }))

  // ---- the queue ----

  it('ranks waiting chats whose visitor wrote before those whose visitor did not, each group oldest first', withStore(async (s) => {
    assert.deepEqual(await s.queue(10), [])
    assert.deepEqual(await s.queueCounts(), { total: 0, silent: 0 })
    // silent bots queued first, across 9→10 and 99→100 so a text order of the numbers would show
    for (const at of [5, 40, 300, 1000, 1_700_000_000_100]) await s.indexOpen(supportChat(`bot${at}`, at))
    await s.indexOpen(wrote(supportChat('late-writer', 1_700_000_000_300)))
    await s.indexOpen(wrote(supportChat('early-writer', 90)))
    await s.indexOpen(supportChat('busy', 1, 'active'))
    assert.deepEqual(cidsOf(await s.queue(100)), ['early-writer', 'late-writer', 'bot5', 'bot40', 'bot300', 'bot1000', 'bot1700000000100'])
    assert.deepEqual((await s.queue(1))[0], { cid: 'early-writer', visitor: 'v_early-writer', queuedAt: 90, wrote: true })
    assert.deepEqual(await s.queueCounts(), { total: 7, silent: 5 }, 'active chats are not waiting')
    assert.deepEqual(await s.openCids(), ['busy', 'bot5', 'bot40', 'early-writer', 'bot300', 'bot1000', 'bot1700000000100', 'late-writer'], 'openCids stays FIFO over all open chats')
  }))

  it('moves a chat in the queue when its visitor writes, takes it out while it is active, and puts it back when it is queued again', withStore(async (s) => {
    const chats = ['a', 'b', 'c', 'd'].map((cid, i) => supportChat(cid, 10 * (i + 1)))
    for (const conv of chats) await s.indexOpen(conv)
    const [, b, c, d] = chats as [Conversation, Conversation, Conversation, Conversation]
    await s.indexOpen(wrote(c))
    assert.deepEqual(cidsOf(await s.queue(10)), ['c', 'a', 'b', 'd'], 'a writer ahead of the silent, listed once')
    await s.indexOpen(wrote(b, 41))
    assert.deepEqual(cidsOf(await s.queue(10)), ['b', 'c', 'a', 'd'], 'writers by queuedAt, not by when they wrote')
    await s.indexOpen({ ...wrote(c), support: { ...wrote(c).support!, state: 'active', agent: 'ag1', assignedAt: 50 } })
    assert.deepEqual(cidsOf(await s.queue(10)), ['b', 'a', 'd'])
    assert.deepEqual(await s.queueCounts(), { total: 3, silent: 2 })
    await s.indexOpen(requeued(wrote(c), 9))
    assert.deepEqual(cidsOf(await s.queue(10)), ['c', 'b', 'a', 'd'], 'back at the head')
    await s.indexOpen(closed(wrote(b, 41)))
    await s.indexOpen(closed(d))
    assert.deepEqual(cidsOf(await s.queue(10)), ['c', 'a'])
    assert.deepEqual(await s.queueCounts(), { total: 2, silent: 1 })
    assert.deepEqual(await s.openCids(), ['c', 'a'])
  }))

  it('pages through the queue by cursor: each chat once, in order, whatever the page size', withStore(async (s) => {
    // 45 chats, a third of them written in, several queued in the same millisecond
    const chats = Array.from({ length: 45 }, (_, i) => {
      const conv = supportChat(`c${String(i).padStart(2, '0')}`, 1000 + Math.floor(i / 3))
      return i % 3 === 1 ? wrote(conv) : conv
    })
    await Promise.all(chats.map(async (conv) => { await s.indexOpen(conv) }))
    const expected = [...chats.filter((c) => c.support!.wroteAt !== undefined), ...chats.filter((c) => c.support!.wroteAt === undefined)].map((c) => c.cid)
    for (const size of [1, 7, 15, 45, 100]) assert.deepEqual(cidsOf(await wholeQueue(s, size)), expected, `pages of ${size}`)
    const page = await s.queue(10)
    assert.equal(page.length, 10)
    assert.deepEqual(cidsOf(await s.queue(10, page.at(-1))), expected.slice(10, 20))
    assert.deepEqual(await s.queue(10, { cid: 'zz', visitor: 'v', queuedAt: 9e12, wrote: false }), [], 'after the last entry')
    assert.deepEqual(cidsOf(await s.queue(3, { cid: '', visitor: '', queuedAt: 0, wrote: false })), expected.slice(15, 18), 'from the start of the silent group')
  }))

  it('ranks open chats an older version indexed without a rank, once; one indexed meanwhile keeps its entry', async () => {
    const fixture = await build()
    try {
      if (!fixture.legacy) return // a store that never had another version
      const [old1, old2, old3, old4] = [supportChat('old1', 10), supportChat('old2', 20), supportChat('old3', 30, 'active', 'v_old3'), supportChat('old4', 40)]
      const store = await fixture.legacy([old1, old2, old3, old4])
      assert.deepEqual((await store.unranked(10)).sort(), ['old1', 'old2', 'old3', 'old4'])
      assert.deepEqual(await store.unranked(2).then((cids) => cids.length), 2, 'at most `limit`')
      assert.deepEqual(await store.openCids(), ['old1', 'old2', 'old3', 'old4'], 'still open')
      assert.deepEqual(await store.queue(10), [], 'not in the queue before they are ranked')

      await store.indexOpen(closed(old4)) // changed by this version meanwhile: indexed anew
      await store.rank(wrote(old2))
      await store.rank(old3)
      await store.rank(old4) // what the leader read before the close
      await store.rank(closed(old1))
      assert.deepEqual(await store.unranked(10), [])
      assert.deepEqual(await store.queue(10), [{ cid: 'old2', visitor: 'v_old2', queuedAt: 20, wrote: true }])
      assert.deepEqual(await store.openCids(), ['old2', 'old3'])
      assert.equal(await store.openFor('site_a', 'v_old1'), undefined, 'a closed one frees its visitor\'s place')

      await store.rank(requeued(old3, 5)) // ranked already: a late rank changes nothing
      assert.deepEqual(cidsOf(await store.queue(10)), ['old2'])
      await store.indexOpen(wrote(old2, 25))
      assert.deepEqual(cidsOf(await store.queue(10)), ['old2'])
    } finally { await fixture.close() }
  })

  it('finds a visitor\'s open chat by site and visitor, until it closes', withStore(async (s) => {
    assert.equal(await s.openFor('site_a', 'v_1'), undefined)
    const first = supportChat('s1', 10, 'waiting', 'v_1', 'site_a')
    await s.indexOpen(first)
    await s.indexOpen(supportChat('s2', 11, 'waiting', 'v_2', 'site_a'))
    await s.indexOpen(supportChat('s3', 12, 'waiting', 'v_1', 'site_b'))
    assert.equal(await s.openFor('site_a', 'v_1'), 's1')
    assert.equal(await s.openFor('site_a', 'v_2'), 's2')
    assert.equal(await s.openFor('site_b', 'v_1'), 's3', 'one open chat per visitor and site')
    assert.equal(await s.openFor('site_b', 'v_2'), undefined)
    assert.equal(await s.openFor('site_a', 'v_'), undefined, 'a visitor uid another one starts with is another visitor')

    await s.indexOpen({ ...first, support: { ...first.support!, state: 'active', agent: 'ag1' } })
    assert.equal(await s.openFor('site_a', 'v_1'), 's1', 'an active chat is open')
    await s.indexOpen(closed(first))
    assert.equal(await s.openFor('site_a', 'v_1'), undefined)
    assert.equal(await s.openFor('site_b', 'v_1'), 's3', 'the visitor\'s chat on another site stays open')
  }))

  it('keeps a visitor\'s new chat found when an older one of theirs is closed again', withStore(async (s) => {
    const old = supportChat('old', 10, 'waiting', 'v_1')
    await s.indexOpen(old)
    await s.indexOpen(closed(old))
    const fresh = supportChat('fresh', 20, 'waiting', 'v_1')
    await s.indexOpen(fresh)
    assert.equal(await s.openFor('site_a', 'v_1'), 'fresh')
    // The idle release and the visitor close the old chat at the same time: the second close lands late.
    await s.indexOpen(closed(old))
    assert.equal(await s.openFor('site_a', 'v_1'), 'fresh')
    assert.deepEqual(await s.openCids(), ['fresh'])
  }))

  // ---- visitors' last traffic and the broker's heartbeat ----

  it('remembers when each visitor was last seen, the newest write winning', withStore(async (s) => {
    assert.equal(await s.seen('v_1'), undefined)
    await s.setSeen('v_1', 1_700_000_000_000)
    await s.setSeen('v_12', 5)
    assert.equal(await s.seen('v_1'), 1_700_000_000_000)
    await s.setSeen('v_1', 1_700_000_000_500)
    assert.equal(await s.seen('v_1'), 1_700_000_000_500)
    assert.equal(await s.seen('v_12'), 5)
    assert.equal(await s.seen('v_'), undefined)
  }))

  it('remembers the broker\'s heartbeat, the newest write winning', withStore(async (s) => {
    assert.equal(await s.aliveAt(), undefined, 'a broker that never ran has no heartbeat')
    await s.setAliveAt(1_700_000_000_000)
    assert.equal(await s.aliveAt(), 1_700_000_000_000)
    await s.setAliveAt(1_700_000_001_000)
    assert.equal(await s.aliveAt(), 1_700_000_001_000)
  }))

  // ---- canned replies ----

  it('keeps, replaces, lists and deletes canned replies, shared and personal', withStore(async (s) => {
    assert.deepEqual(await s.listCanned(), [])
    await s.putCanned(canned('hello', null))
    await s.putCanned(canned('mine', 'ag1'))
    await s.putCanned(canned('bye', null))
    assert.deepEqual(byId(await s.listCanned()), [canned('bye', null), canned('hello', null), canned('mine', 'ag1')])

    await s.putCanned(canned('hello', null, 'Hello! How can I help?'))
    assert.deepEqual(byId(await s.listCanned()), [canned('bye', null), canned('hello', null, 'Hello! How can I help?'), canned('mine', 'ag1')], 'replaced, listed once')
    assert.equal((await s.listCanned()).find((r) => r.id === 'hello')?.owner, null, 'a shared reply keeps owner null')

    await s.deleteCanned('bye')
    await s.deleteCanned('never-there')
    assert.deepEqual(byId(await s.listCanned()), [canned('hello', null, 'Hello! How can I help?'), canned('mine', 'ag1')])
  }))
}
