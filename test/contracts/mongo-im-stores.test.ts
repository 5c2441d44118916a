/**
 * The MongoDB conversation and message stores: the same contract as the embedded ones, on
 * FerretDB (CI) or on the MongoDB of MONGO_URL, a fresh database per test. Then what only a
 * shared database has: several brokers (each its own client, lock and caches) on one conversation.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { MongoClient, type Db } from 'mongodb'
import { openMongoImStores, toMessageDoc, type MessageDoc } from '../../broker/store/mongo/im-stores.js'
import type { NewMessage } from '../../broker/store/ports.js'
import type { Conversation } from '../../shared/protocol.js'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'
import { runImStoreContract } from './im-store.contract.js'

const onFerretDb = process.env.MONGO_URL === undefined || process.env.MONGO_URL === ''

const group = (cid: string, uids: string[]): Conversation => ({
  cid,
  kind: 'group',
  members: uids.map((uid) => ({ uid, role: 'member', joinedAt: 1, readSeq: 0 })),
  createdAt: 1,
  createdBy: uids[0] ?? 'nobody',
  lastSeq: 0
})

const draft = (cid: string, from: string, cmid: string): NewMessage =>
  ({ id: randomUUID(), cid, from, ts: 1000, type: 'text', body: { text: cmid }, cmid })

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe(`MongoDB conversation and message stores (${onFerretDb ? 'FerretDB' : 'MONGO_URL'})`, () => {
  let server: MongoServer | undefined
  let client: MongoClient | undefined

  before(async () => {
    server = await startFerretDb()
    client = new MongoClient(server.url)
    await client.connect()
  })

  after(async () => {
    await client?.close()
    await server?.stop()
  })

  const freshDb = (): { db: Db, drop: () => Promise<void> } => {
    assert.ok(client)
    const db = client.db(uniqueDbName('im_stores'))
    return { db, drop: async () => { await db.dropDatabase() } }
  }

  runImStoreContract(async () => {
    const { db, drop } = freshDb()
    return { ...(await openMongoImStores(db)), close: drop }
  })

  /** `count` brokers on one fresh database, each with its own client (connection pool). */
  async function withBrokers (count: number, test: (brokers: Array<Awaited<ReturnType<typeof openMongoImStores>>>, db: Db) => Promise<void>): Promise<void> {
    assert.ok(server)
    const { db, drop } = freshDb()
    const clients = Array.from({ length: count }, () => new MongoClient(server!.url))
    try {
      const brokers = await Promise.all(clients.map(async (c) => await openMongoImStores(c.db(db.databaseName))))
      await test(brokers, db)
    } finally {
      await Promise.all(clients.map(async (c) => { await c.close() }))
      await drop()
    }
  }

  it('numbers the racing appends of two brokers to one conversation 1..N, each cmid once', async () => {
    await withBrokers(2, async ([a, b]) => {
      assert.ok(a && b)
      await a.conversations.create(group('c1', ['alice', 'bob']))
      // each broker gets 60 sends; the first 20 of them are also retried on the other broker
      const drafts = Array.from({ length: 120 }, (_, i) => draft('c1', i % 2 === 0 ? 'alice' : 'bob', `k${i}`))
      const results = await Promise.all(drafts.flatMap((d, i) => {
        const [home, other] = i % 2 === 0 ? [a, b] : [b, a]
        return i < 40 ? [home.messages.append(d), other.messages.append({ ...d, id: randomUUID() })] : [home.messages.append(d)]
      }))
      assert.equal(results.filter((r) => r.created).length, 120, 'each cmid stored once')
      const stored = await a.messages.after('c1', 0, 500)
      assert.deepEqual(stored.map((m) => m.seq), range(1, 120), 'no gap, no duplicate')
      assert.deepEqual(new Set(stored.map((m) => m.cmid)), new Set(drafts.map((d) => d.cmid)))
      for (const r of results) assert.deepEqual(r.message, stored[r.message.seq - 1], 'every call got the stored message')
      for (const broker of [a, b]) assert.equal((await broker.conversations.get('c1'))?.lastSeq, 120)
    })
  })

  it('carries on past the seqs another broker took since this one last wrote', async () => {
    await withBrokers(2, async ([a, b]) => {
      assert.ok(a && b)
      await a.conversations.create(group('c1', ['alice', 'bob']))
      for (const cmid of ['a1', 'a2', 'a3']) await a.messages.append(draft('c1', 'alice', cmid))
      for (const cmid of ['b1', 'b2']) await b.messages.append(draft('c1', 'bob', cmid))
      const next = await a.messages.append(draft('c1', 'alice', 'a4'))
      assert.equal(next.message.seq, 6)
      assert.deepEqual((await b.messages.after('c1', 0, 10)).map((m) => m.cmid), ['a1', 'a2', 'a3', 'b1', 'b2', 'a4'])
      const conv = await b.conversations.get('c1')
      assert.deepEqual(conv?.members.map((m) => [m.uid, m.readSeq]), [['alice', 6], ['bob', 5]])
    })
  })

  it('recovers from a broker that died between storing a message and moving lastSeq', async () => {
    await withBrokers(1, async ([a], db) => {
      assert.ok(a)
      await a.conversations.create(group('c1', ['alice', 'bob']))
      await a.messages.append(draft('c1', 'alice', 'k1'))
      // what the dead broker left: the message (its seq taken), and nothing else
      await db.collection<MessageDoc>('messages').insertOne(toMessageDoc({ ...draft('c1', 'bob', 'k2'), seq: 2 }))
      assert.equal((await a.conversations.get('c1'))?.lastSeq, 2, 'lastSeq agrees with the stored messages')
      assert.equal(await a.conversations.markRead('c1', 'alice', 2), 2)

      // the client's retry (on any broker) gets the stored message and moves its sender's read position
      const retry = await a.messages.append(draft('c1', 'bob', 'k2'))
      assert.equal(retry.created, false)
      assert.equal(retry.message.seq, 2)
      assert.equal((await a.conversations.get('c1'))?.members.find((m) => m.uid === 'bob')?.readSeq, 2)
      // this broker's cached seq said 1: the unique index says 2 is taken
      assert.equal((await a.messages.append(draft('c1', 'alice', 'k3'))).message.seq, 3)
    })
  })

  it('stores custom data as given, keys with dots and dollars included', async () => {
    await withBrokers(1, async ([a]) => {
      assert.ok(a)
      await a.conversations.create(group('c1', ['alice']))
      const body = { kind: 'form', data: { 'a.b': 1, $set: { $inc: [1, { 'x.y': null }] }, '': 'empty', n: -2.5 } }
      const { message } = await a.messages.append({ ...draft('c1', 'alice', 'k1'), type: 'custom', body })
      assert.deepEqual(message.body, body)
      assert.deepEqual(await a.messages.get('c1', message.id), message)
      const recalled = { ...message, body: null, recalledAt: 2 }
      await a.messages.update(recalled)
      assert.deepEqual(await a.messages.last('c1'), recalled)
    })
  })

  it('keeps every member change of two brokers racing on one conversation', {
    todo: onFerretDb ? 'FerretDB 1.24 applies an update as read-then-write, not atomically across connections: a compare-and-set on the version can match twice' : false
  }, async () => {
    await withBrokers(2, async ([a, b]) => {
      assert.ok(a && b)
      await a.conversations.create(group('c1', ['owner']))
      const uids = Array.from({ length: 20 }, (_, i) => `u${i}`)
      await Promise.all(uids.map((uid, i) => (i % 2 === 0 ? a : b).conversations.addMember('c1', { uid, role: 'member', joinedAt: 2, readSeq: 0 })))
      const conv = await a.conversations.get('c1')
      assert.deepEqual(conv?.members.map((m) => m.uid).sort(), ['owner', ...uids].sort())
      for (const uid of uids) assert.deepEqual(await b.conversations.cidsOf(uid), ['c1'])
    })
  })
})
