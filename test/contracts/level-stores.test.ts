import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { describe, it } from 'node:test'
import { openLevel } from '../../broker/store/level/open.js'
import { LevelPrincipalStore, LevelSiteStore } from '../../broker/store/level/principal-store.js'
import { LevelSessionStore } from '../../broker/store/level/session-store.js'
import { LevelSupportStore } from '../../broker/store/level/support-store.js'
import { tempDataDir } from '../helpers/broker.js'
import { runPrincipalStoreContract } from './principal-store.contract.js'
import { runSessionStoreContract } from './session-store.contract.js'
import { runSupportStoreContract, supportChat } from './support-store.contract.js'

describe('embedded (LevelDB) principal and site stores', () => {
  runPrincipalStoreContract(async () => {
    const dir = tempDataDir()
    const db = await openLevel(dir)
    return {
      principals: new LevelPrincipalStore(db),
      sites: new LevelSiteStore(db),
      close: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }) }
    }
  })
})

describe('embedded (LevelDB) session store', () => {
  runSessionStoreContract(async () => {
    const dir = tempDataDir()
    const db = await openLevel(dir)
    return { sessions: new LevelSessionStore(db), close: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }) } }
  })
})

describe('embedded (LevelDB) support store', () => {
  runSupportStoreContract(async () => {
    const dir = tempDataDir()
    const db = await openLevel(dir)
    return { support: new LevelSupportStore(db), close: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }) } }
  })

  // The store remembers each open chat's index key in memory; a restarted broker must still move
  // and close the chats a previous run indexed.
  it('moves and closes, after a restart, the open chats indexed before it', async () => {
    const dir = tempDataDir()
    try {
      let db = await openLevel(dir)
      let store = new LevelSupportStore(db)
      const a = supportChat('a', 10)
      const b = supportChat('b', 20, 'active', 'v_b')
      const c = supportChat('c', 30, 'waiting', 'v_c')
      for (const conv of [a, b, c]) await store.indexOpen(conv)
      await store.putAgent({ uid: 'ag1', status: 'online', capacity: 2, active: ['b'], idleSince: 20 })
      await store.setSeen('v_c', 31)
      await store.setAliveAt(32)
      await store.putCanned({ id: 'hi', owner: null, title: 'Hi', text: 'Hello!', createdAt: 1 })
      await db.close()

      db = await openLevel(dir)
      store = new LevelSupportStore(db)
      try {
        assert.deepEqual(await store.openCids(), ['a', 'b', 'c'])
        assert.equal(await store.openFor('site_a', 'v_c'), 'c')
        assert.deepEqual((await store.getAgent('ag1'))?.active, ['b'])
        assert.equal(await store.seen('v_c'), 31)
        assert.equal(await store.aliveAt(), 32)
        assert.deepEqual((await store.listCanned()).map((r) => r.id), ['hi'])

        await store.indexOpen({ ...c, support: { ...c.support!, queuedAt: 5 } })
        assert.deepEqual(await store.openCids(), ['c', 'a', 'b'], 're-queued: moved, listed once')
        await store.indexOpen({ ...b, support: { ...b.support!, state: 'closed', closedAt: 40 } })
        assert.deepEqual(await store.openCids(), ['c', 'a'])
        assert.equal(await store.openFor('site_a', 'v_b'), undefined)
      } finally { await db.close() }
    } finally { rmSync(dir, { recursive: true, force: true }) }
  })
})
