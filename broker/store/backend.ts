/**
 * The store backend, chosen once at start from the frozen config: every store port and the MQTT
 * persistence come from here, so nothing in `im/`, `support/` or `principals/` knows which
 * database it runs on. `STORE=level` (default): the embedded LevelDB in `DATA_DIR`.
 */
import type { Config } from '../config/schema.js'
import { BoundedLevelPersistence, type BoundedQueueOptions } from '../persistence/bounded-queue.js'
import { openImStores } from './level/im-stores.js'
import { openLevel } from './level/open.js'
import { LevelPrincipalStore, LevelSiteStore } from './level/principal-store.js'
import { LevelSessionStore } from './level/session-store.js'
import { LevelSupportStore } from './level/support-store.js'
import type { ConversationStore, MessageStore, PrincipalStore, SessionStore, SiteStore, SupportStore } from './ports.js'

/** The MQTT persistence with the product's queue policy (bounded-queue.ts), whatever the database. */
export type MqttPersistence = BoundedLevelPersistence

export interface Backend {
  readonly kind: 'level' | 'mongodb'
  readonly principals: PrincipalStore
  readonly sites: SiteStore
  readonly conversations: ConversationStore
  readonly messages: MessageStore
  readonly support: SupportStore
  readonly sessions: SessionStore
  /** aedes' persistence: sessions, subscriptions, retained messages, wills, bounded offline queues */
  mqttPersistence (options: BoundedQueueOptions): MqttPersistence
  close (): Promise<void>
}

export async function openBackend (config: Config): Promise<Backend> {
  const root = await openLevel(config.DATA_DIR)
  return {
    kind: 'level',
    principals: new LevelPrincipalStore(root),
    sites: new LevelSiteStore(root),
    ...openImStores(root),
    support: new LevelSupportStore(root),
    sessions: new LevelSessionStore(root),
    mqttPersistence: (options) => new BoundedLevelPersistence(root, options),
    close: async () => { await root.close() }
  }
}
