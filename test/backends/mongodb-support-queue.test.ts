/**
 * The support queue under a flood of bots, with every broker on MongoDB (`STORE=mongodb`):
 * FerretDB in CI, or the server `MONGO_URL` names. A file of its own: 400 bots' chats on FerretDB
 * take most of the runner's per-file timeout.
 */
import { brokersOnMongoDb } from '../helpers/on-mongodb.js'

await brokersOnMongoDb()
await import('../features/support-queue-flood.test.js')
