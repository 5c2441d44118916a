/**
 * The IM delivery guarantees suite again, with every broker on MongoDB (`STORE=mongodb`): FerretDB
 * in CI, or the server `MONGO_URL` names. Same tests, same assertions: only the backend differs.
 * (One file per suite or two: each file must finish within the runner's per-file timeout.)
 */
import { brokersOnMongoDb } from '../helpers/on-mongodb.js'

await brokersOnMongoDb()
await import('../features/im-delivery.test.js')
