/**
 * The principal, site, session and support stores on MongoDB: FerretDB v1.24.2 (test/helpers/
 * ferretdb.ts), or the real MongoDB at MONGO_URL. Each test gets a database of its own, dropped
 * when it closes.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { openMongo, type MongoHandle } from '../../broker/store/mongo/connect.js'
import { MongoNodeStore } from '../../broker/store/mongo/node-store.js'
import { MongoPrincipalStore, MongoSiteStore } from '../../broker/store/mongo/principal-store.js'
import { MongoSessionStore } from '../../broker/store/mongo/session-store.js'
import { MongoSupportStore } from '../../broker/store/mongo/support-store.js'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'
import { MongoAttemptStore } from '../../broker/store/mongo/attempt-store.js'
import { runAttemptStoreContract } from './attempt-store.contract.js'
import { runPrincipalStoreContract } from './principal-store.contract.js'
import { runSessionStoreContract } from './session-store.contract.js'
import { runNodeStoreContract } from './node-store.contract.js'
import { runSupportRoutingContract } from './support-routing.contract.js'
import { assertSurvivesReopen, runSupportStoreContract, supportChat } from './support-store.contract.js'

let server: MongoServer

before(async () => { server = await startFerretDb() }, { timeout: 15 * 60_000 }) // may build FerretDB first (~2 min)
after(async () => { await server?.stop() })

/** A fresh database, and a `close` that drops it and closes the client. */
async function freshDb (name: string): Promise<{ mongo: MongoHandle, close (): Promise<void> }> {
  const mongo = await openMongo({ url: server.url, dbName: uniqueDbName(name) })
  return { mongo, close: async () => { try { await mongo.db.dropDatabase() } finally { await mongo.close() } } }
}

describe('MongoDB principal and site stores', () => {
  runPrincipalStoreContract(async () => {
    const { mongo, close } = await freshDb('principals')
    return { principals: await MongoPrincipalStore.open(mongo.db), sites: await MongoSiteStore.open(mongo.db), close }
  })
})

describe('MongoDB session store', () => {
  runSessionStoreContract(async () => {
    const { mongo, close } = await freshDb('sessions')
    return { sessions: await MongoSessionStore.open(mongo.db), close }
  })

  it('lands the writes of one turn in the order they were asked for', async () => {
    const { mongo, close } = await freshDb('sessions_turn')
    try {
      const sessions = await MongoSessionStore.open(mongo.db)
      const writes = [
        sessions.put({ clientId: 'a', online: true, lastSeen: 1 }),
        sessions.put({ clientId: 'b', online: true, lastSeen: 1 }),
        sessions.delete('a'),
        sessions.put({ clientId: 'b', online: false, lastSeen: 2 }),
        sessions.put({ clientId: 'c', online: true, lastSeen: 3 })
      ]
      await Promise.all(writes)
      const listed = []
      for await (const record of sessions.list()) listed.push(record)
      assert.deepEqual(listed, [{ clientId: 'b', online: false, lastSeen: 2 }, { clientId: 'c', online: true, lastSeen: 3 }])
    } finally { await close() }
  })
})

describe('MongoDB support store', () => {
  runSupportStoreContract(async () => {
    const { mongo, close } = await freshDb('support')
    return {
      support: await MongoSupportStore.open(mongo.db),
      // what a version before the ranked queue wrote: no state, no tier; and the visitor's place
      legacy: async (convs) => {
        for (const conv of convs) {
          const { site, visitor, queuedAt } = conv.support!
          await mongo.db.collection<{ _id: string, queuedAt: number, site: string, visitor: string, createdAt: number }>('support_open').insertOne({ _id: conv.cid, queuedAt, site, visitor, createdAt: conv.createdAt })
          await mongo.db.collection<{ _id: string, cid: string }>('support_visitor').insertOne({ _id: `${site}!${visitor}`, cid: conv.cid })
        }
        return await MongoSupportStore.open(mongo.db)
      },
      close
    }
  })

  runSupportRoutingContract(async () => {
    const { mongo, close } = await freshDb('support_routing')
    // a second client on the same database: another node
    const other = await openMongo({ url: server.url, dbName: mongo.db.databaseName })
    return {
      first: await MongoSupportStore.open(mongo.db),
      second: await MongoSupportStore.open(other.db),
      close: async () => { await other.close(); await close() }
    }
  })

  // The embedded store keeps each open chat's index key in memory; this one keeps nothing, and a
  // broker started later (another client, another store) must still move and close the chats.
  it('moves and closes, from a new client, the open chats indexed before it', async () => {
    const dbName = uniqueDbName('support_restart')
    let mongo = await openMongo({ url: server.url, dbName })
    try {
      await assertSurvivesReopen(await MongoSupportStore.open(mongo.db), async () => {
        await mongo.close()
        mongo = await openMongo({ url: server.url, dbName })
        return await MongoSupportStore.open(mongo.db) // its indexes exist already: opening again is fine
      })
    } finally {
      try { await mongo.db.dropDatabase() } finally { await mongo.close() }
    }
  })

  it('keeps the last of many writes of one chat asked for at once', async () => {
    const { mongo, close } = await freshDb('support_order')
    try {
      const support = await MongoSupportStore.open(mongo.db)
      const chat = supportChat('s1', 10)
      await Promise.all([
        support.indexOpen(chat),
        support.indexOpen({ ...chat, support: { ...chat.support!, state: 'active', agent: 'ag1' } }),
        support.indexOpen({ ...chat, support: { ...chat.support!, queuedAt: 5 } }),
        support.indexOpen({ ...chat, support: { ...chat.support!, state: 'closed', closedAt: 20 } }),
        ...Array.from({ length: 20 }, async (_, i) => { await support.setSeen('v_1', 100 + i) })
      ])
      assert.deepEqual(await support.openCids(), [], 'the close, asked for last, landed last')
      assert.equal(await support.openFor('site_a', 'v_s1'), undefined)
      assert.equal(await support.seen('v_1'), 119)
    } finally { await close() }
  })
})

describe('MongoDB node store', () => {
  runNodeStoreContract(async () => {
    const { mongo, close } = await freshDb('nodes')
    return { nodes: await MongoNodeStore.open(mongo.db), close }
  })
})

describe('MongoDB connection', () => {
  it('names the host it cannot reach, never the password', async () => {
    // a port that was free a moment ago: nothing listens there
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number }
        probe.close(() => { resolve(port) })
      })
    })
    const started = Date.now()
    await assert.rejects(openMongo({ url: `mongodb://im:s3cr%40t-pw@127.0.0.1:${port}/?authSource=admin`, dbName: 'im', serverSelectionTimeoutMS: 300 }), (err: Error) => {
      assert.match(err.message, new RegExp(`Cannot reach MongoDB at 127\\.0\\.0\\.1:${port} \\(database im\\)`))
      assert.doesNotMatch(err.message, /s3cr|%40t-pw|im:/)
      return true
    })
    assert.ok(Date.now() - started < 5000, 'gives up after serverSelectionTimeoutMS')
  })

  it('gives a client and the database it was asked for', async () => {
    const { mongo, close } = await freshDb('connect')
    try {
      assert.match(mongo.db.databaseName, /^connect_/)
      assert.equal((await mongo.db.command({ ping: 1 })).ok, 1)
    } finally { await close() }
  })
})

describe('MongoDB attempt store, shared by two nodes', () => {
  runAttemptStoreContract(async () => {
    const { mongo, close } = await freshDb('attempts')
    // the second node: its own client (its own connections) on the same database
    const other = await openMongo({ url: server.url, dbName: mongo.db.databaseName })
    return {
      nodes: [await MongoAttemptStore.open(mongo.db), await MongoAttemptStore.open(other.db)],
      close: async () => { await other.close(); await close() }
    }
  })
})
