/**
 * The customer-service feature suites again, with every broker on MongoDB (`STORE=mongodb`):
 * FerretDB in CI, or the server `MONGO_URL` names (see mongodb-im.test.ts).
 */
import { after } from 'node:test'
import { startFerretDb } from '../helpers/ferretdb.js'

// MONGO_URL set: that server (a real MongoDB); otherwise a FerretDB started for this file
const mongo = await startFerretDb()
process.env.TEST_MONGO_URL = mongo.url
after(async () => { await mongo.stop() })

await import('../features/support-smoke.test.js')
await import('../features/support-desk.test.js')
await import('../features/support-routing.test.js')
await import('../features/support-idle-release.test.js')
await import('../features/principal-lifecycle.test.js')
