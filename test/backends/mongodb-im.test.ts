/**
 * The IM feature suites again, with every broker on MongoDB (`STORE=mongodb`): FerretDB in CI, or
 * the server `MONGO_URL` names. Same tests, same assertions: only the backend differs.
 */
import { brokersOnMongoDb } from '../helpers/on-mongodb.js'

await brokersOnMongoDb()
await import('../features/im-messaging.test.js')
await import('../features/im-delivery.test.js')
await import('../features/durable-sessions.test.js')
await import('../features/client-library.test.js')
await import('../features/session-expiry.test.js')
