/**
 * The IM feature suites again, with every broker on MongoDB (`STORE=mongodb`): FerretDB in CI
 * (test/helpers/ferretdb.ts), or the server `MONGO_URL` names. Same tests, same assertions: only
 * the backend differs (test/helpers/broker.ts `storeSettings`).
 */
import { after } from 'node:test'
import { startFerretDb } from '../helpers/ferretdb.js'

// MONGO_URL set: that server (a real MongoDB); otherwise a FerretDB started for this file
const mongo = await startFerretDb()
process.env.TEST_MONGO_URL = mongo.url
after(async () => { await mongo.stop() })

await import('../features/im-messaging.test.js')
await import('../features/im-delivery.test.js')
await import('../features/durable-sessions.test.js')
await import('../features/client-library.test.js')
await import('../features/session-expiry.test.js')
