/**
 * The MongoDB backend (`STORE=mongodb`): every store and the MQTT persistence on one database
 * (`MONGO_DB`) through one client, so that several broker nodes share one state. Indexes are
 * created at start. The driver reconnects by itself when the server goes away: operations fail
 * meanwhile (a command is answered IM_ERR_INTERNAL and sent again by its client) and
 * `/healthz` says so, but the broker keeps running.
 */
import type { Config } from '../../config/schema.js'
import { BoundedMongoPersistence } from '../../persistence/mongo-queue.js'
import type { Backend } from '../backend.js'
import { MongoAttemptStore } from './attempt-store.js'
import { openMongo } from './connect.js'
import { openMongoImStores } from './im-stores.js'
import { MongoNodeStore } from './node-store.js'
import { MongoPrincipalStore, MongoSiteStore } from './principal-store.js'
import { MongoSessionStore } from './session-store.js'
import { MongoSupportStore } from './support-store.js'

const HEALTH_PING_MS = 2000

export async function openMongoBackend (config: Pick<Config, 'MONGO_URL' | 'MONGO_DB'>): Promise<Backend> {
  if (!config.MONGO_URL) throw new Error('STORE=mongodb needs MONGO_URL')
  const mongo = await openMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB })
  try {
    const { db } = mongo
    // one after the other: FerretDB 1.24 can fail index creations sent at once (im-stores.ts)
    const principals = await MongoPrincipalStore.open(db)
    const sites = await MongoSiteStore.open(db)
    const im = await openMongoImStores(db)
    const support = await MongoSupportStore.open(db)
    const sessions = await MongoSessionStore.open(db)
    const nodes = await MongoNodeStore.open(db)
    const attempts = await MongoAttemptStore.open(db)
    return {
      kind: 'mongodb',
      principals,
      sites,
      ...im,
      support,
      sessions,
      nodes,
      attempts,
      mqttPersistence: (options) => new BoundedMongoPersistence(db, options),
      health: async () => {
        try {
          await db.command({ ping: 1 }, { timeoutMS: HEALTH_PING_MS })
          return { kind: 'mongodb', ok: true }
        } catch (err) {
          return { kind: 'mongodb', ok: false, error: (err as Error).message }
        }
      },
      close: async () => { await mongo.close() }
    }
  } catch (err) {
    await mongo.close()
    throw err
  }
}
