/**
 * The principal cache (principals/cached-store.ts) in front of a real embedded store: what it
 * read is answered for TTL, and then let go — not kept until newer entries push it out of the
 * LRU. Counts of cached records; the cache's clock is the test's, so no test waits.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { describe, it } from 'node:test'
import { CachedPrincipalStore } from '../../broker/principals/cached-store.js'
import { newIncarnation } from '../../broker/principals/incarnation.js'
import { defaultGrants } from '../../broker/principals/service.js'
import { openLevel } from '../../broker/store/level/open.js'
import { LevelPrincipalStore } from '../../broker/store/level/principal-store.js'
import type { PrincipalRecord } from '../../broker/store/ports.js'
import { tempDataDir } from '../helpers/broker.js'

const TTL_MS = 5000
const VISITORS = 50

const visitor = (uid: string): PrincipalRecord => ({ uid, role: 'visitor', incarnation: newIncarnation(), site: 'site-1', grants: defaultGrants('visitor'), createdAt: 1, updatedAt: 1 })

describe('the principal cache', () => {
  it('lets go of the records it read once their TTL is over, as it is used', async () => {
    const dir = tempDataDir()
    const db = await openLevel(dir)
    try {
      const store = new LevelPrincipalStore(db)
      let now = 1_000_000 // not 0: lru-cache takes an entry stored at time 0 for one without a TTL
      const cache = new CachedPrincipalStore(store, { ttlMs: TTL_MS, maxEntries: 10_000, now: () => now })
      await store.create(visitor('agent-1'))
      for (let i = 0; i < VISITORS; i++) await store.create(visitor(`v${i}`))

      // visitors connect: each one's record is read, and answered from memory for TTL_MS
      for (let i = 0; i < VISITORS; i++) assert.equal((await cache.get(`v${i}`))?.uid, `v${i}`)
      assert.equal(cache.size, VISITORS)
      now += TTL_MS / 2
      assert.equal((await cache.get('v3'))?.uid, 'v3')
      assert.equal(cache.size, VISITORS, 'within TTL every record is kept')

      // they are gone; a principal still active keeps using the cache
      now += TTL_MS
      assert.equal((await cache.get('agent-1'))?.uid, 'agent-1')
      assert.equal(cache.size, 1, 'the expired records were let go: only the principal seen in the last TTL is held')

      // an expired record is read again from the store, as before
      assert.equal((await cache.get('v7'))?.uid, 'v7')
      assert.equal(cache.size, 2)
    } finally {
      await db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
