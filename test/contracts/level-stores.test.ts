import { rmSync } from 'node:fs'
import { describe } from 'node:test'
import { openLevel } from '../../broker/store/level/open.js'
import { LevelPrincipalStore, LevelSiteStore } from '../../broker/store/level/principal-store.js'
import { LevelSessionStore } from '../../broker/store/level/session-store.js'
import { tempDataDir } from '../helpers/broker.js'
import { runPrincipalStoreContract } from './principal-store.contract.js'
import { runSessionStoreContract } from './session-store.contract.js'

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
