/**
 * One contract (mqtt-persistence.contract.ts) for the product's MQTT persistence on both stores:
 * `BoundedLevelPersistence` on a temp LevelDB, and `BoundedMongoPersistence` on FerretDB v1.24.2
 * (test/helpers/ferretdb.ts) or the real MongoDB at MONGO_URL, a fresh database per test.
 */
import { rmSync } from 'node:fs'
import { after, before, describe } from 'node:test'
import { BoundedLevelPersistence } from '../../broker/persistence/bounded-queue.js'
import { BoundedMongoPersistence } from '../../broker/persistence/mongo-queue.js'
import { openLevel } from '../../broker/store/level/open.js'
import { openMongo } from '../../broker/store/mongo/connect.js'
import { tempDataDir } from '../helpers/broker.js'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'
import { runMqttPersistenceContract, type ProductPersistence } from './mqtt-persistence.contract.js'

describe('MQTT persistence on LevelDB (BoundedLevelPersistence)', () => {
  runMqttPersistenceContract(async () => {
    const dir = tempDataDir()
    const root = await openLevel(dir)
    return {
      // aedes-persistence-level.d.ts declares only what the bounded queue overrides, not
      // addSubscriptions, putWill…, which aedes-persistence-level has
      open: (options) => new BoundedLevelPersistence(root, options) as unknown as ProductPersistence,
      close: async () => { await root.close(); rmSync(dir, { recursive: true, force: true }) }
    }
  })
})

describe('MQTT persistence on MongoDB (BoundedMongoPersistence)', () => {
  let server: MongoServer
  before(async () => { server = await startFerretDb() }, { timeout: 15 * 60_000 }) // may build FerretDB first (~2 min)
  after(async () => { await server?.stop() })

  runMqttPersistenceContract(async () => {
    const mongo = await openMongo({ url: server.url, dbName: uniqueDbName('mqtt') })
    return {
      open: (options): ProductPersistence => new BoundedMongoPersistence(mongo.db, options),
      close: async () => { try { await mongo.db.dropDatabase() } finally { await mongo.close() } }
    }
  })
})
