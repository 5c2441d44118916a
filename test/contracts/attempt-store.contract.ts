/**
 * The contract every `AttemptStore` must meet: attempts are counted before they are made, and of
 * racing takes no more get a slot than there is room for — from one broker or from several
 * sharing the store (`nodes`: the same store opened by each node, one entry for a store that is
 * one process's own). [IM-LIMIT-1]
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { AttemptStore, AttemptTally } from '../../broker/store/ports.js'

export interface AttemptStoreFixture { nodes: AttemptStore[], close (): Promise<void> }

const HOUR = 3_600_000
const below = (limit: number) => (tally: AttemptTally): boolean => tally.count < limit

export function runAttemptStoreContract (build: () => Promise<AttemptStoreFixture>): void {
  const withStore = (test: (nodes: AttemptStore[]) => Promise<void>) => async () => {
    const fixture = await build()
    try { await test(fixture.nodes) } finally { await fixture.close() }
  }

  it('counts attempts until there is no room, and tells how many and when the latest was', withStore(async ([s]) => {
    const now = Date.now()
    assert.deepEqual(await s!.take('uid:a', now, now + HOUR, below(2)), { taken: true, slot: 0 })
    assert.deepEqual(await s!.take('uid:a', now + 5, now + HOUR, below(2)), { taken: true, slot: 1 })
    assert.deepEqual(await s!.take('uid:a', now + 9, now + HOUR, below(2)), { taken: false, tally: { count: 2, lastAt: now + 5 } })
    // other keys are apart, also one that begins like it
    assert.deepEqual(await s!.take('uid:ab', now, now + HOUR, below(1)), { taken: true, slot: 0 })
    let seen: AttemptTally | undefined
    await s!.take('uid:fresh', now, now + HOUR, (tally) => { seen = tally; return false })
    assert.deepEqual(seen, { count: 0 })
  }))

  it('gives no more slots than there is room for to many takes at once, from every node', withStore(async (nodes) => {
    const now = Date.now()
    const results = await Promise.all(Array.from({ length: 60 }, async (_, i) => await nodes[i % nodes.length]!.take('uid:race', now + i, now + HOUR, below(5))))
    const slots = results.flatMap((r) => r.taken ? [r.slot] : [])
    assert.equal(slots.length, 5, `taken: ${slots.join(', ')}`)
    assert.equal(new Set(slots).size, 5)
    assert.ok(results.every((r) => r.taken || r.tally.count >= 5))
  }))

  it('forgets an attempt given back, every attempt cleared, and expired ones', withStore(async ([s]) => {
    const now = Date.now()
    const first = await s!.take('ip:x', now, now + HOUR, below(2))
    await s!.take('ip:x', now, now + HOUR, below(2))
    assert.ok(first.taken)
    await s!.giveBack('ip:x', first.slot)
    assert.equal((await s!.take('ip:x', now, now + HOUR, below(2))).taken, true, 'the slot given back is room again')
    assert.equal((await s!.take('ip:x', now, now + HOUR, below(2))).taken, false)
    await s!.clear('ip:x')
    assert.equal((await s!.take('ip:x', now, now + HOUR, below(1))).taken, true)

    await s!.take('ip:old', now - 2 * HOUR, now - HOUR, () => true)
    let seen: AttemptTally | undefined
    await s!.take('ip:old', now, now + HOUR, (tally) => { seen = tally; return true })
    assert.deepEqual(seen, { count: 0 }, 'an expired attempt no longer counts')
  }))
}
