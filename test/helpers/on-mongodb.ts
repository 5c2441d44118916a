/**
 * For test/backends/: every broker the tests of this file start keeps its state in MongoDB —
 * FerretDB started for the file, or the server `MONGO_URL` names (a real MongoDB). Call at the
 * top of the file, before importing the suites to run again (test/helpers/broker.ts
 * `storeSettings` reads `TEST_MONGO_URL`).
 */
import { after } from 'node:test'
import { startFerretDb } from './ferretdb.js'

export async function brokersOnMongoDb (): Promise<void> {
  const mongo = await startFerretDb()
  process.env.TEST_MONGO_URL = mongo.url
  after(async () => { await mongo.stop() })
}
