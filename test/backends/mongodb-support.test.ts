/**
 * The customer-service feature suites again, with every broker on MongoDB (`STORE=mongodb`):
 * FerretDB in CI, or the server `MONGO_URL` names. Same tests, same assertions. (The queue under
 * a flood of bots: mongodb-support-queue.test.ts, so that each file stays inside the runner's
 * per-file timeout.)
 */
import { brokersOnMongoDb } from '../helpers/on-mongodb.js'

await brokersOnMongoDb()
await import('../features/support-smoke.test.js')
await import('../features/support-desk.test.js')
await import('../features/support-routing.test.js')
await import('../features/support-idle-release.test.js')
await import('../features/principal-lifecycle.test.js')
