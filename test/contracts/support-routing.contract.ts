/**
 * The part of the `SupportStore` contract that decides who owns what on the support desk: an
 * agent's slots, a chat's claim, a visitor's place, and changes of an agent's record. These must
 * hold across broker nodes: `build` gives two stores on one database (two clients, as two nodes
 * have; the embedded store, single-node, gives the same store twice), and the racing cases send
 * half of their calls through each. [IM-SUPPORT-1]
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { AgentRecord, SupportStore } from '../../broker/store/ports.js'

export interface SupportRoutingFixture { first: SupportStore, second: SupportStore, close (): Promise<void> }

const record = (uid: string, extra: Partial<AgentRecord> = {}): AgentRecord => ({ uid, status: 'online', capacity: 3, idleSince: 1, ...extra })

export function runSupportRoutingContract (build: () => Promise<SupportRoutingFixture>): void {
  const withStores = (test: (a: SupportStore, b: SupportStore) => Promise<void>) => async () => {
    const fixture = await build()
    try { await test(fixture.first, fixture.second) } finally { await fixture.close() }
  }
  const through = (a: SupportStore, b: SupportStore, i: number): SupportStore => (i % 2 === 0 ? a : b)

  it('gives an agent at most its capacity of slots, each chat one, freed ones again', withStores(async (s) => {
    await s.putAgent(record('ag1', { capacity: 2 }))
    assert.equal(await s.takeSlot('ag1', 'c1', 2, 10), true)
    assert.equal(await s.takeSlot('ag1', 'c2', 2, 11), true)
    assert.equal(await s.takeSlot('ag1', 'c3', 2, 12), false, 'full')
    assert.equal(await s.takeSlot('ag1', 'c1', 2, 13), true, 'a chat that holds a slot holds it still: not a second one')
    assert.deepEqual((await s.getAgent('ag1'))?.active, ['c1', 'c2'])
    await s.releaseSlot('ag1', 'c1')
    await s.releaseSlot('ag1', 'never')
    assert.equal(await s.takeSlot('ag1', 'c3', 2, 14), true)
    assert.deepEqual((await s.getAgent('ag1'))?.active, ['c2', 'c3'], 'in the order taken')
    assert.deepEqual((await s.listAgents()).map((a) => [a.uid, a.active]), [['ag1', ['c2', 'c3']]])
    assert.deepEqual((await s.getAgent('ag1'))?.capacity, 2)
  }))

  it('never gives more slots than the capacity to takes racing from two nodes', withStores(async (a, b) => {
    await a.putAgent(record('ag1'))
    const won = await Promise.all(Array.from({ length: 12 }, async (_, i) => await through(a, b, i).takeSlot('ag1', `c${i}`, 3, 100 + i)))
    assert.equal(won.filter(Boolean).length, 3)
    const active = (await b.getAgent('ag1'))?.active ?? []
    assert.deepEqual([...active].sort(), won.flatMap((w, i) => (w ? [`c${i}`] : [])).sort(), 'the winners hold the slots')
    // the same chat given to the agent by two nodes at once takes one slot
    await a.putAgent(record('ag2', { capacity: 2 }))
    assert.deepEqual(await Promise.all([a.takeSlot('ag2', 'x', 2, 1), b.takeSlot('ag2', 'x', 2, 1), a.takeSlot('ag2', 'x', 2, 1)]), [true, true, true])
    assert.deepEqual((await a.getAgent('ag2'))?.active, ['x'])
  }))

  it('gives no new slot to an agent whose capacity was lowered below its chats', withStores(async (s) => {
    await s.putAgent(record('ag1'))
    for (const cid of ['c1', 'c2', 'c3']) assert.equal(await s.takeSlot('ag1', cid, 3, 1), true)
    await s.patchAgent('ag1', { capacity: 1 })
    assert.equal(await s.takeSlot('ag1', 'c4', 1, 2), false)
    await s.releaseSlot('ag1', 'c1')
    await s.releaseSlot('ag1', 'c2')
    assert.equal(await s.takeSlot('ag1', 'c5', 1, 3), false, 'one chat still held: full at capacity 1')
    await s.releaseSlot('ag1', 'c3')
    assert.equal(await s.takeSlot('ag1', 'c6', 1, 4), true)
    assert.deepEqual((await s.getAgent('ag1'))?.active, ['c6'])
  }))

  it('lets exactly one of many racing claims of a chat win, and moves or gives it up for its holder only', withStores(async (a, b) => {
    const won = await Promise.all(Array.from({ length: 8 }, async (_, i) => await through(a, b, i).claim('s1', `ag${i}`, 50 + i)))
    assert.equal(won.filter(Boolean).length, 1)
    const winner = `ag${won.indexOf(true)}`
    assert.equal((await b.claimOf('s1'))?.agent, winner)
    assert.equal(await a.claim('s1', winner, 70), true, 'its holder claiming again keeps it')
    assert.equal(await a.claim('s1', 'other', 70), false)
    assert.equal(await b.moveClaim('s1', 'not-the-holder', 'ag9', 71), false)
    assert.equal((await a.claimOf('s1'))?.agent, winner)
    assert.equal(await b.moveClaim('s1', winner, 'ag9', 72), true)
    assert.deepEqual(await a.claimOf('s1'), { agent: 'ag9', at: 72 })
    await a.unclaim('s1', winner)
    assert.equal((await a.claimOf('s1'))?.agent, 'ag9', 'given up only by its holder')
    await b.unclaim('s1', 'ag9')
    assert.equal(await a.claimOf('s1'), undefined)
    assert.equal(await a.claim('s1', 'ag3', 80), true, 'free again')
    await a.unclaim('s1')
    assert.equal(await b.claimOf('s1'), undefined, 'given up whoever holds it')
    assert.equal(await b.claimOf('never'), undefined)
  }))

  it('gives a visitor\'s place on a site to the first of many racing chats, freed by that chat only', withStores(async (a, b) => {
    const holders = await Promise.all(Array.from({ length: 6 }, async (_, i) => await through(a, b, i).reserveVisitor('site_a', 'v1', `s${i}`)))
    const holder = holders[0]!
    assert.ok(holders.every((h) => h === holder), `one holder for all: ${holders.join()}`)
    assert.match(holder, /^s[0-5]$/)
    assert.equal(await b.openFor('site_a', 'v1'), holder)
    assert.equal(await a.reserveVisitor('site_b', 'v1', 'other-site'), 'other-site', 'a place per site')
    await a.releaseVisitor('site_a', 'v1', holder === 's0' ? 's1' : 's0')
    assert.equal(await a.openFor('site_a', 'v1'), holder, 'another chat does not free it')
    await b.releaseVisitor('site_a', 'v1', holder)
    assert.equal(await a.openFor('site_a', 'v1'), undefined)
    assert.equal(await b.reserveVisitor('site_a', 'v1', 'next'), 'next')
  }))

  it('changes fields of an agent\'s record, removes them with null, and creates it only when told how', withStores(async (a, b) => {
    await a.patchAgent('ag1', { status: 'away' })
    assert.equal(await a.getAgent('ag1'), undefined, 'no record: nothing to change')
    await a.patchAgent('ag1', { status: 'online' }, record('ag1', { status: 'offline', capacity: 4 }))
    assert.deepEqual(await b.getAgent('ag1'), { ...record('ag1', { capacity: 4 }), active: [] }, 'created from the record, with the patch on top')
    await b.patchAgent('ag1', { status: 'away', autoAway: true, disconnectedAt: 5 }, record('ag1', { capacity: 9 }))
    assert.deepEqual(await a.getAgent('ag1'), { ...record('ag1', { capacity: 4, status: 'away' }), autoAway: true, disconnectedAt: 5, active: [] }, 'an existing record is changed, not created again')
    await a.takeSlot('ag1', 'c1', 4, 6)
    await a.patchAgent('ag1', { autoAway: null, disconnectedAt: null, idleSince: 7 })
    assert.deepEqual(await b.getAgent('ag1'), { ...record('ag1', { capacity: 4, status: 'away', idleSince: 7 }), active: ['c1'] })
    await b.putAgent(record('ag1', { status: 'offline' }))
    assert.deepEqual((await a.getAgent('ag1'))?.active, ['c1'], 'a whole record written keeps the slots')
  }))
}
