/**
 * The store backend, chosen once at start from the frozen config: every store port and the MQTT
 * persistence come from here, so nothing in `im/`, `support/` or `principals/` knows which
 * database it runs on. `STORE=level` (default): the embedded LevelDB in `DATA_DIR`;
 * `STORE=mongodb`: MongoDB at `MONGO_URL`, database `MONGO_DB`.
 */
import type { Config } from '../config/schema.js'
import type { BoundedLevelPersistence, BoundedQueueOptions } from '../persistence/bounded-queue.js'
import type { BoundedMongoPersistence } from '../persistence/mongo-queue.js'
import { openLevelBackend } from './level/backend.js'
import { openMongoBackend } from './mongo/backend.js'
import type { AttemptStore, ConversationStore, MessageStore, NodeStore, PrincipalStore, SessionStore, SiteStore, SupportStore } from './ports.js'

/** The MQTT persistence with the product's queue policy (bounded-queue.ts), whatever the database. */
export type MqttPersistence = BoundedLevelPersistence | BoundedMongoPersistence

export interface StoreHealth { kind: Config['STORE'], ok: boolean, error?: string }

export interface Backend {
  readonly kind: Config['STORE']
  readonly principals: PrincipalStore
  readonly sites: SiteStore
  readonly conversations: ConversationStore
  readonly messages: MessageStore
  readonly support: SupportStore
  readonly sessions: SessionStore
  /** the broker nodes sharing this store, and who is connected where */
  readonly nodes: NodeStore
  /** login attempts, counted before the password is checked (shared by the nodes on MongoDB) */
  readonly attempts: AttemptStore
  /** aedes' persistence: sessions, subscriptions, retained messages, wills, bounded offline queues */
  mqttPersistence (options: BoundedQueueOptions): MqttPersistence
  /** for `GET /healthz`: whether the database answers now */
  health (): Promise<StoreHealth>
  close (): Promise<void>
}

export async function openBackend (config: Config): Promise<Backend> {
  return config.STORE === 'mongodb' ? await openMongoBackend(config) : await openLevelBackend(config)
}
