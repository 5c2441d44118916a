/** The embedded backend (`STORE=level`, the default): everything in one LevelDB in `DATA_DIR`. */
import type { Config } from '../../config/schema.js'
import { BoundedLevelPersistence } from '../../persistence/bounded-queue.js'
import type { Backend } from '../backend.js'
import { MemoryAttemptStore } from './attempt-store.js'
import { openImStores } from './im-stores.js'
import { LevelNodeStore } from './node-store.js'
import { openLevel } from './open.js'
import { LevelPrincipalStore, LevelSiteStore } from './principal-store.js'
import { LevelSessionStore } from './session-store.js'
import { LevelSupportStore } from './support-store.js'

export async function openLevelBackend (config: Pick<Config, 'DATA_DIR'>): Promise<Backend> {
  const root = await openLevel(config.DATA_DIR)
  return {
    kind: 'level',
    principals: new LevelPrincipalStore(root),
    sites: new LevelSiteStore(root),
    ...openImStores(root),
    support: new LevelSupportStore(root),
    sessions: new LevelSessionStore(root),
    nodes: new LevelNodeStore(root),
    attempts: new MemoryAttemptStore(),
    mqttPersistence: (options) => new BoundedLevelPersistence(root, options),
    health: async () => root.status === 'open' ? { kind: 'level', ok: true } : { kind: 'level', ok: false, error: `LevelDB is ${root.status}` },
    close: async () => { await root.close() }
  }
}
