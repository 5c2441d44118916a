import { rmSync } from 'node:fs'
import { describe, it } from 'node:test'
import { openLevel } from '../../broker/store/level/open.js'
import { LevelPrincipalStore, LevelSiteStore } from '../../broker/store/level/principal-store.js'
import { LevelSessionStore } from '../../broker/store/level/session-store.js'
import { LevelNodeStore } from '../../broker/store/level/node-store.js'
import { LevelSupportStore } from '../../broker/store/level/support-store.js'
import { tempDataDir } from '../helpers/broker.js'
import { MemoryAttemptStore } from '../../broker/store/level/attempt-store.js'
import { runAttemptStoreContract } from './attempt-store.contract.js'
import { runPrincipalStoreContract } from './principal-store.contract.js'
import { runSessionStoreContract } from './session-store.contract.js'
import { runNodeStoreContract } from './node-store.contract.js'
import { runSupportRoutingContract } from './support-routing.contract.js'
import { assertSurvivesReopen, runSupportStoreContract } from './support-store.contract.js'

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
    return {
      support: new LevelSupportStore(db),
      // what a version before the ranked queue wrote: `{queuedAt}!{cid}` → '' and the visitor's place
      legacy: async (convs) => {
        const open = db.sublevel<string, string>('support-open', { valueEncoding: 'utf8' })
        const places = db.sublevel<string, string>('support-visitor', { valueEncoding: 'utf8' })
        for (const conv of convs) {
          await open.put(`${String(conv.support!.queuedAt).padStart(15, '0')}!${conv.cid}`, '')
          await places.put(`${conv.support!.site}!${conv.support!.visitor}`, conv.cid)
        }
        return new LevelSupportStore(db)
      },
      close: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }) }
    }
  })

  runSupportRoutingContract(async () => {
    const dir = tempDataDir()
    const db = await openLevel(dir)
    const support = new LevelSupportStore(db) // single-node: both "nodes" are this store
    return { first: support, second: support, close: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }) } }
  })

  // The store remembers each open chat's index key in memory; a restarted broker must still move
  // and close the chats a previous run indexed.
  it('moves and closes, after a restart, the open chats indexed before it', async () => {
    const dir = tempDataDir()
    let db = await openLevel(dir)
    try {
      await assertSurvivesReopen(new LevelSupportStore(db), async () => {
        await db.close()
        db = await openLevel(dir)
        return new LevelSupportStore(db)
      })
    } finally {
      await db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('embedded (LevelDB) node store', () => {
  runNodeStoreContract(async () => {
    const dir = tempDataDir()
    const db = await openLevel(dir)
    return { nodes: new LevelNodeStore(db), close: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }) } }
  })
})

describe('embedded (in-memory) attempt store', () => {
  runAttemptStoreContract(async () => ({ nodes: [new MemoryAttemptStore()], close: async () => {} }))
})
