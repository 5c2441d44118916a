/**
 * The durable-session, session-expiry and will-takeover suites again, with every broker on MongoDB
 * (`STORE=mongodb`): FerretDB in CI, or the server `MONGO_URL` names. Same tests, same assertions:
 * only the backend differs. (One file per suite or two: each file must finish within the runner's
 * per-file timeout.)
 */
import { brokersOnMongoDb } from '../helpers/on-mongodb.js'

await brokersOnMongoDb()
await import('../features/durable-sessions.test.js')
await import('../features/session-expiry.test.js')
await import('../features/will-takeover.test.js')
