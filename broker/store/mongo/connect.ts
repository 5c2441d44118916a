/**
 * The MongoDB store: one `MongoClient` (one connection pool) per broker, shared by every MongoDB
 * store through one `Db`. Each store creates the indexes it needs when it opens.
 *
 * Also runs on FerretDB 1.24 (what CI tests against); the stores keep to what both do alike:
 * unique-index inserts for create-if-absent, and single-document writes (replace, upsert,
 * delete, `$set`/`$max`/`$inc`), which MongoDB applies atomically. FerretDB's updates are
 * read-then-write (test/infra/ferretdb.test.ts): where one broker may race itself on a document,
 * the store serializes those writes per key (broker/lib/keyed-lock.ts).
 */
import { MongoClient, MongoServerError, type Collection, type Db, type Filter, type WithoutId } from 'mongodb'

export interface MongoHandle {
  client: MongoClient
  db: Db
  /** Closes the client; the database stays. */
  close (): Promise<void>
}

export interface MongoOptions {
  /** `mongodb://…` or `mongodb+srv://…`, credentials included */
  url: string
  dbName: string
  /** how long to look for a usable server before giving up (default 5 s; the driver's own is 30 s) */
  serverSelectionTimeoutMS?: number
}

const DEFAULT_SERVER_SELECTION_MS = 5000

export async function openMongo (options: MongoOptions): Promise<MongoHandle> {
  const hosts = hostsOf(options.url)
  let client: MongoClient
  try {
    client = new MongoClient(options.url, {
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? DEFAULT_SERVER_SELECTION_MS,
      appName: 'mqtt-im',
      // A property set to undefined is left out, as JSON (the embedded store) leaves it out;
      // otherwise it would be stored as null and read back as null, not as a missing property.
      ignoreUndefined: true
    })
  } catch (err) {
    // The driver's parse error may quote a part of the connection string, password included:
    // it is passed on scrubbed, and not as the cause.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`MONGO_URL is not a valid MongoDB connection string (hosts: ${hosts}): ${scrub((err as Error).message, options.url, 1)}`)
  }
  try {
    await client.connect()
  } catch (err) {
    await client.close().catch(() => {})
    throw new Error(`Cannot reach MongoDB at ${hosts} (database ${options.dbName}): ${scrub((err as Error).message, options.url)}`, { cause: err })
  }
  return { client, db: client.db(options.dbName), close: async () => { await client.close() } }
}

/**
 * Whether `err` is a write refused by a unique index. MongoDB says 11000 for inserts and updates
 * alike; FerretDB 1.24 says 11000 for inserts but, for an update, code 1 with SQLite's
 * "UNIQUE constraint failed" (test/infra/ferretdb.test.ts, point 2).
 */
export function isDuplicateKey (err: unknown): boolean {
  if (!(err instanceof MongoServerError)) return false
  return err.code === 11000 || (err.code === 1 && err.message.includes('UNIQUE constraint failed'))
}

/**
 * Replaces the document with `doc._id`, or inserts it: one single-document write. Two upserts of
 * one new _id can both miss and one then fails on the unique _id; MongoDB (4.2+) retries that
 * itself, FerretDB does not, so it is retried here once, when the document exists.
 */
export async function replaceOrInsert<T extends { _id: string }> (collection: Collection<T>, doc: T): Promise<void> {
  const { _id, ...fields } = doc
  const filter = { _id } as Filter<T>
  const replacement = fields as WithoutId<T>
  try {
    await collection.replaceOne(filter, replacement, { upsert: true })
  } catch (err) {
    if (!isDuplicateKey(err)) throw err
    await collection.replaceOne(filter, replacement, { upsert: true })
  }
}

/** The hosts of a connection string, without the credentials or the options. */
export function hostsOf (url: string): string {
  const afterScheme = url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
  const beforeQuery = afterScheme.split('?', 1)[0] ?? ''
  // the last '@' ends the credentials, also when a password holds a raw '@' or '/'
  const hostsAndPath = beforeQuery.slice(beforeQuery.lastIndexOf('@') + 1)
  return hostsAndPath.split('/', 1)[0] || '(no host)'
}

/**
 * `message` without the password of `url`, should the driver ever quote it. Pieces shorter than
 * `minLength` are left, or a 1-letter password would star every such letter of a message.
 */
function scrub (message: string, url: string, minLength = 3): string {
  const afterScheme = url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
  const at = afterScheme.split('?', 1)[0]?.lastIndexOf('@') ?? -1
  if (at < 0) return message
  const userInfo = afterScheme.slice(0, at)
  const colon = userInfo.indexOf(':')
  if (colon < 0) return message
  const password = userInfo.slice(colon + 1)
  // longest first; also the pieces, should a password with a raw '@' or ':' be quoted in parts
  const secrets = [userInfo, password, safeDecode(password), ...password.split(/[@:/]/)]
    .filter((secret) => secret.length >= minLength)
    .sort((a, b) => b.length - a.length)
  let out = message
  for (const secret of secrets) out = out.split(secret).join('***')
  return out
}

function safeDecode (text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
