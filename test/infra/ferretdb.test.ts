/**
 * The tests' MongoDB: FerretDB v1.24.2 on embedded SQLite (test/helpers/ferretdb.ts), or a real
 * MongoDB when MONGO_URL is set, driven with the official `mongodb` driver through what a MongoDB
 * message store needs: a unique index on (cid, seq), duplicate inserts failing with 11000,
 * findOneAndUpdate + upsert + $inc counters, conditional updateOne, unordered bulkWrite and
 * sort + limit; then the server stops and its port closes.
 *
 * Every one of those works on FerretDB 1.24.2 when the operations come one at a time. What it did
 * NOT do like MongoDB (each point is checked below: `kind === 'ferretdb'` branches pin the
 * FerretDB behaviour, `todo` tests show the MongoDB behaviour FerretDB lacks; with MONGO_URL all
 * of them must pass as MongoDB):
 *
 * 1. No atomic read-modify-write across connections. findAndModify and update read the matching
 *    document, apply the operators in Go, then write the whole document back by _id
 *    (`UPDATE … WHERE _id = ?`, FerretDB internal/handler/msg_findandmodify.go, msg_update.go,
 *    backends/sqlite/collection.go UpdateAll), with no transaction around the read and the
 *    write and no re-check of the filter. Hence, with several connections at once:
 *    - `$inc` loses updates: 100 findOneAndUpdate `$inc` over 4 clients ended at 3, 100 updateOne
 *      `$inc` at 1; one MongoClient with its default pool lost most of them too. Through a single
 *      connection (`maxPoolSize: 1`) they are exact: one connection's commands run in order.
 *    - a conditional updateOne is no compare-and-set: of 40 concurrent
 *      updateOne({ _id, v: 0 }, { $set: … }) up to 25 reported matchedCount 1 (MongoDB: one).
 *    - concurrent upserts of one new _id: some fail with E11000 (MongoDB >= 4.2 retries them).
 *    Unique indexes ARE enforced (by SQLite): of concurrent inserts of one (cid, seq), one wins.
 * 2. An update (update, findAndModify, a bulkWrite updateOne) that would break a unique index
 *    fails with code 1 (InternalError) and a message containing
 *    "UNIQUE constraint failed: index '…' (2067)", not with 11000. Inserts do give 11000.
 * 3. The update command ignores `ordered` (upstream TODO FerretDB#2612): its first failing
 *    statement fails the whole command; statements before it stay applied, those after it are not
 *    run, and the driver's MongoBulkWriteError then has no writeErrors and all counts 0.
 * 4. An update reply's `upserted[].index` counts the upserts instead of giving the statement's
 *    index, so BulkWriteResult.upsertedIds is keyed wrong unless the upsert comes first.
 * 5. E11000 errors name no index and carry no keyPattern / keyValue:
 *    "E11000 duplicate key error collection: <db>.<coll>".
 * Also seen, outside these checks: only a filter that is exactly { _id: value } is pushed down to
 * SQLite; any other find (e.g. { cid } sorted by seq, limit 3) reads and decodes the whole
 * collection and sorts in memory (explain: filterPushdown, sortPushdown and limitPushdown false):
 * secondary indexes only enforce uniqueness. No transactions (a transaction's first insert fails:
 * 'unknown field "autocommit"', code 9) and no change streams ($changeStream: code 238
 * NotImplemented).
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createConnection } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { MongoBulkWriteError, MongoClient, MongoServerError, type Db } from 'mongodb'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'

const onFerretDb = process.env.MONGO_URL === undefined || process.env.MONGO_URL === ''
const DUPLICATE_KEY = 11000

interface Message { cid: string, seq: number, body?: string, edited?: boolean }
interface Counter { _id: string, seq: number }
interface Flag { _id: string, v: number }

async function portAccepts (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { socket.destroy(); resolve(false) })
  })
}

/** [index, code] of each write error (the driver types writeErrors as one or an array). */
function writeErrors (error: MongoBulkWriteError): Array<[number, number]> {
  return [error.writeErrors].flat().map((e) => [e.index, e.code])
}

async function rejection (promise: Promise<unknown>): Promise<any> {
  try {
    await promise
  } catch (error) {
    return error
  }
  assert.fail('expected a rejection')
}

describe(`MongoDB test server (${onFerretDb ? 'FerretDB v1.24.2 on SQLite' : 'MONGO_URL'})`, () => {
  let server: MongoServer
  let client: MongoClient
  let db: Db
  const clients: MongoClient[] = []

  /** `n` more clients on their own connections, closed by the stop test. */
  async function moreClients (n: number, options: { maxPoolSize?: number } = {}): Promise<MongoClient[]> {
    const made = await Promise.all(Array.from({ length: n }, async () => await new MongoClient(server.url, options).connect()))
    clients.push(...made)
    return made
  }

  before(async () => {
    server = await startFerretDb()
    client = await new MongoClient(server.url).connect()
    db = client.db(uniqueDbName('infra_ferretdb'))
  }, { timeout: 15 * 60_000 }) // may build FerretDB first (.ci/ferretdb.sh, ~2 min on 2 cores)

  after(async () => {
    await Promise.all([client, ...clients].map(async (c) => await c?.close()))
    await server?.stop()
  })

  it('answers ping, on the server it says', async () => {
    assert.equal(server.kind, onFerretDb ? 'ferretdb' : 'mongodb')
    assert.equal((await db.command({ ping: 1 })).ok, 1)
    const build = await db.admin().command({ buildInfo: 1 })
    if (onFerretDb) assert.equal(build.ferretdbVersion, 'v1.24.2', server.log())
    assert.notEqual(uniqueDbName('x'), uniqueDbName('x'))
    assert.match(uniqueDbName('a.b/c d'.repeat(20)), /^[a-zA-Z0-9_-]{1,63}$/)
  })

  it('creates a collection and a unique index on (cid, seq)', async () => {
    await db.createCollection('messages')
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)
    assert.ok(names.includes('messages'), `collections: ${names.join(', ')}`)
    const messages = db.collection<Message>('messages')
    assert.equal(await messages.createIndex({ cid: 1, seq: 1 }, { unique: true, name: 'cid_seq' }), 'cid_seq')
    const index = (await messages.indexes()).find((i) => i.name === 'cid_seq')
    assert.deepEqual(index?.key, { cid: 1, seq: 1 })
    assert.equal(index?.unique, true)
  })

  it('inserts documents; a duplicate (cid, seq) insert fails with 11000', async () => {
    const messages = db.collection<Message>('messages')
    const inserted = await messages.insertMany([1, 2, 3, 4, 5].map((seq) => ({ cid: 'c1', seq, body: `m${seq}` })))
    assert.equal(inserted.insertedCount, 5)
    await messages.insertOne({ cid: 'c2', seq: 1 })

    const duplicate = await rejection(messages.insertOne({ cid: 'c1', seq: 3, body: 'again' }))
    assert.ok(duplicate instanceof MongoServerError, String(duplicate))
    assert.equal(duplicate.code, DUPLICATE_KEY)
    assert.match(duplicate.message, /E11000 duplicate key error/)
    if (onFerretDb) {
      // point 5: no index name, no keyPattern / keyValue
      assert.equal(duplicate.keyValue, undefined)
    } else {
      assert.deepEqual(duplicate.keyValue, { cid: 'c1', seq: 3 })
    }

    // unordered insertMany goes on past the duplicate
    const batch = await rejection(messages.insertMany([{ cid: 'c1', seq: 6 }, { cid: 'c1', seq: 2 }, { cid: 'c1', seq: 7 }], { ordered: false }))
    assert.ok(batch instanceof MongoBulkWriteError, String(batch))
    assert.equal(batch.insertedCount, 2)
    assert.deepEqual(writeErrors(batch), [[1, DUPLICATE_KEY]])
    assert.equal(await messages.countDocuments({ cid: 'c1' }), 7)
    assert.equal((await messages.findOne({ cid: 'c1', seq: 3 }))?.body, 'm3', 'the first one stays')
  })

  it('concurrent inserts of one (cid, seq): exactly one wins, the others get 11000', async () => {
    const messages = (await moreClients(4)).map((c) => c.db(db.databaseName).collection<Message>('messages'))
    const results = await Promise.allSettled(Array.from({ length: 40 }, async (_, i) => await messages[i % 4].insertOne({ cid: 'race', seq: 1, body: `by ${i}` })))
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    for (const r of results) if (r.status === 'rejected') assert.equal(r.reason.code, DUPLICATE_KEY, String(r.reason))
  })

  it('findOneAndUpdate with upsert + $inc counts 1, 2, 3', async () => {
    const counters = db.collection<Counter>('counters')
    const next = async (): Promise<Counter | null> => await counters.findOneAndUpdate({ _id: 'c1' }, { $inc: { seq: 1 } }, { upsert: true, returnDocument: 'after' })
    assert.deepEqual(await next(), { _id: 'c1', seq: 1 }, 'upserted')
    assert.deepEqual(await next(), { _id: 'c1', seq: 2 })
    assert.deepEqual(await next(), { _id: 'c1', seq: 3 })
    assert.deepEqual(await counters.findOneAndUpdate({ _id: 'c1' }, { $inc: { seq: 1 } }, { upsert: true, returnDocument: 'before' }), { _id: 'c1', seq: 3 })
    const withMeta = await counters.findOneAndUpdate({ _id: 'c2' }, { $inc: { seq: 5 } }, { upsert: true, returnDocument: 'after', includeResultMetadata: true })
    assert.deepEqual(withMeta.value, { _id: 'c2', seq: 5 })
    assert.equal(withMeta.lastErrorObject?.updatedExisting, false)
  })

  it('$inc through one connection (maxPoolSize 1) is exact, even with 100 in flight', async () => {
    const [single] = await moreClients(1, { maxPoolSize: 1 })
    const counters = single.db(db.databaseName).collection<Counter>('counters')
    await counters.insertOne({ _id: 'serial', seq: 0 })
    const values = await Promise.all(Array.from({ length: 100 }, async () => (await counters.findOneAndUpdate({ _id: 'serial' }, { $inc: { seq: 1 } }, { returnDocument: 'after' }))?.seq))
    assert.equal(new Set(values).size, 100)
    assert.equal((await counters.findOne({ _id: 'serial' }))?.seq, 100)
  })

  it('$inc from several connections at once loses no update', { todo: onFerretDb && 'FerretDB 1.24.2: findAndModify/update read, then write back by _id, not atomically (point 1)' }, async () => {
    const all = (await moreClients(4)).map((c) => c.db(db.databaseName).collection<Counter>('counters'))
    await all[0].insertMany([{ _id: 'parallel-fam', seq: 0 }, { _id: 'parallel-update', seq: 0 }])
    const values = await Promise.all(Array.from({ length: 100 }, async (_, i) => (await all[i % 4].findOneAndUpdate({ _id: 'parallel-fam' }, { $inc: { seq: 1 } }, { returnDocument: 'after' }))?.seq))
    await Promise.all(Array.from({ length: 100 }, async (_, i) => await all[i % 4].updateOne({ _id: 'parallel-update' }, { $inc: { seq: 1 } })))
    const final = await all[0].find({ _id: { $in: ['parallel-fam', 'parallel-update'] } }).sort({ _id: 1 }).toArray()
    assert.deepEqual(final.map((c) => c.seq), [100, 100], 'final counts')
    assert.equal(new Set(values).size, 100, 'findOneAndUpdate handed out distinct values')
  })

  it('concurrent upserts of one new _id all succeed', { todo: onFerretDb && 'FerretDB 1.24.2: some fail with E11000, MongoDB retries them (point 1)' }, async () => {
    const all = (await moreClients(4)).map((c) => c.db(db.databaseName).collection<Counter>('counters'))
    const results = await Promise.allSettled(Array.from({ length: 20 }, async (_, i) => await all[i % 4].findOneAndUpdate({ _id: 'fresh' }, { $inc: { seq: 1 } }, { upsert: true, returnDocument: 'after' })))
    assert.deepEqual(results.filter((r) => r.status === 'rejected').map((r: any) => String(r.reason)), [])
    assert.equal((await all[0].findOne({ _id: 'fresh' }))?.seq, 20)
  })

  it('updateOne with a condition: matchedCount 1, then 0 once the condition fails', async () => {
    const counters = db.collection<Counter>('counters')
    await counters.insertOne({ _id: 'cond', seq: 4 })
    const first = await counters.updateOne({ _id: 'cond', seq: 4 }, { $set: { seq: 10 } })
    assert.equal(first.matchedCount, 1)
    assert.equal(first.modifiedCount, 1)
    const again = await counters.updateOne({ _id: 'cond', seq: 4 }, { $set: { seq: 11 } })
    assert.equal(again.matchedCount, 0)
    assert.equal(again.modifiedCount, 0)
    const below = await counters.updateOne({ _id: 'cond', seq: { $lt: 10 } }, { $set: { seq: 12 } })
    assert.equal(below.matchedCount, 0, '$lt condition')
    const max = await counters.updateOne({ _id: 'cond', seq: { $lt: 20 } }, { $max: { seq: 15 } })
    assert.equal(max.modifiedCount, 1)
    assert.equal((await counters.findOne({ _id: 'cond' }))?.seq, 15)
  })

  it('a conditional updateOne is a compare-and-set under concurrency', { todo: onFerretDb && 'FerretDB 1.24.2: the filter is not re-checked at write time, several racers match (point 1)' }, async () => {
    const flags = (await moreClients(4)).map((c) => c.db(db.databaseName).collection<Flag>('flags'))
    for (let round = 0; round < 3; round++) {
      await flags[0].insertOne({ _id: `cas${round}`, v: 0 })
      const results = await Promise.all(Array.from({ length: 40 }, async (_, i) => await flags[i % 4].updateOne({ _id: `cas${round}`, v: 0 }, { $set: { v: i + 1 } })))
      assert.equal(results.reduce((sum, r) => sum + r.matchedCount, 0), 1, `round ${round}: winners`)
    }
  })

  it('an update that would duplicate (cid, seq) fails', async () => {
    const messages = db.collection<Message>('messages')
    const error = await rejection(messages.updateOne({ cid: 'c1', seq: 6 }, { $set: { seq: 7 } }))
    assert.ok(error instanceof MongoServerError, String(error))
    if (onFerretDb) {
      // point 2: InternalError, not DuplicateKey
      assert.equal(error.code, 1)
      assert.match(error.message, /UNIQUE constraint failed: index '[^']*cid_seq' \(2067\)/)
      const viaFam = await rejection(messages.findOneAndUpdate({ cid: 'c1', seq: 6 }, { $set: { seq: 7 } }))
      assert.equal(viaFam.code, 1)
    } else {
      assert.equal(error.code, DUPLICATE_KEY)
    }
    assert.equal(await messages.countDocuments({ cid: 'c1', seq: 6 }), 1, 'unchanged')
  })

  it('bulkWrite with ordered:false goes on past a duplicate insert', async () => {
    const messages = db.collection<Message>('messages')
    const error = await rejection(messages.bulkWrite([
      { insertOne: { document: { cid: 'c2', seq: 2 } } },
      { insertOne: { document: { cid: 'c1', seq: 1 } } }, // duplicate
      { updateOne: { filter: { cid: 'c1', seq: 5 }, update: { $set: { edited: true } } } },
      { updateOne: { filter: { cid: 'c3', seq: 1 }, update: { $setOnInsert: { body: 'new' } }, upsert: true } },
      { deleteOne: { filter: { cid: 'c1', seq: 4 } } },
      { insertOne: { document: { cid: 'c2', seq: 3 } } }
    ], { ordered: false }))
    assert.ok(error instanceof MongoBulkWriteError, String(error))
    assert.deepEqual(writeErrors(error), [[1, DUPLICATE_KEY]])
    const r = error.result
    assert.deepEqual([r.insertedCount, r.matchedCount, r.modifiedCount, r.upsertedCount, r.deletedCount], [2, 1, 1, 1, 1])
    assert.deepEqual(await messages.find({ cid: { $in: ['c2', 'c3'] } }, { projection: { _id: 0 } }).sort({ cid: 1, seq: 1 }).toArray(),
      [{ cid: 'c2', seq: 1 }, { cid: 'c2', seq: 2 }, { cid: 'c2', seq: 3 }, { cid: 'c3', seq: 1, body: 'new' }])
    assert.equal((await messages.findOne({ cid: 'c1', seq: 5 }))?.edited, true)
    assert.equal(await messages.countDocuments({ cid: 'c1', seq: 4 }), 0)
  })

  it('bulkWrite with ordered:false goes on past a failing update', async () => {
    const messages = db.collection<Message>('messages')
    await messages.insertMany([1, 2, 3].map((seq) => ({ cid: 'u', seq })))
    const error = await rejection(messages.bulkWrite([
      { updateOne: { filter: { cid: 'u', seq: 1 }, update: { $set: { body: 'one' } } } },
      { updateOne: { filter: { cid: 'u', seq: 2 }, update: { $set: { seq: 3 } } } }, // would duplicate (u, 3)
      { updateOne: { filter: { cid: 'u', seq: 3 }, update: { $set: { body: 'three' } } } }
    ], { ordered: false }))
    assert.ok(error instanceof MongoBulkWriteError, String(error))
    const bodies = (await messages.find({ cid: 'u' }).sort({ seq: 1 }).toArray()).map((m) => m.body ?? null)
    if (onFerretDb) {
      // points 2 and 3: the command failed as a whole at its second statement
      assert.equal(error.code, 1)
      assert.deepEqual(writeErrors(error), [])
      assert.equal(error.result.modifiedCount, 0, 'not counted, though the first update was applied')
      assert.deepEqual(bodies, ['one', null, null], 'the third update was not run')
    } else {
      assert.deepEqual(writeErrors(error), [[1, DUPLICATE_KEY]])
      assert.equal(error.result.modifiedCount, 2)
      assert.deepEqual(bodies, ['one', null, 'three'])
    }
  })

  it('bulkWrite reports an upsert under its own index', async () => {
    const messages = db.collection<Message>('messages')
    const result = await messages.bulkWrite([
      { updateOne: { filter: { cid: 'c2', seq: 1 }, update: { $set: { body: 'b' } } } },
      { updateOne: { filter: { cid: 'c4', seq: 1 }, update: { $set: { body: 'b' } }, upsert: true } }
    ], { ordered: true })
    assert.equal(result.upsertedCount, 1)
    // point 4: FerretDB numbers the upserts, MongoDB gives the statement's index
    assert.deepEqual(Object.keys(result.upsertedIds), [onFerretDb ? '0' : '1'])
  })

  it('sort + limit', async () => {
    const messages = db.collection<Message>('messages')
    const latest = await messages.find({ cid: 'c1' }, { projection: { _id: 0, seq: 1 } }).sort({ seq: -1 }).limit(3).toArray()
    assert.deepEqual(latest, [{ seq: 7 }, { seq: 6 }, { seq: 5 }])
    const after2 = await messages.find({ cid: 'c1', seq: { $gt: 2 } }, { projection: { _id: 0, seq: 1 } }).sort({ seq: 1 }).limit(2).toArray()
    assert.deepEqual(after2, [{ seq: 3 }, { seq: 5 }])
    const page = await messages.find({}, { projection: { _id: 0, cid: 1, seq: 1 } }).sort({ cid: -1, seq: 1 }).skip(1).limit(2).toArray()
    assert.deepEqual(page, [{ cid: 'u', seq: 2 }, { cid: 'u', seq: 3 }])
  })

  it('stops: the port closes and the temp dir goes', async (t) => {
    await db.dropDatabase()
    await Promise.all([client, ...clients.splice(0)].map(async (c) => await c.close()))
    if (server.kind === 'mongodb') {
      t.skip('MONGO_URL: a server this helper did not start is not stopped')
      return
    }
    const port = Number(new URL(server.url).port)
    assert.equal(await portAccepts(port), true, 'open before stop()')
    await server.stop()
    assert.equal(await portAccepts(port), false, 'closed after stop()')
    assert.equal(existsSync(server.dir ?? ''), false, 'temp dir removed')
  })
})
