/**
 * The embedded store lets go of a conversation once a message's seq is taken, before its write
 * lands (group commit). What that must never cost: a seq given twice or skipped — when the
 * conversation's state is pushed out of the cache meanwhile, or when the batch fails. The batch
 * failure is real: LevelDB refuses a whole batch that holds a put without a value.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { openImStores, sublevels } from '../../../broker/store/level/im-stores.js'
import { openLevel, type RootDb } from '../../../broker/store/level/open.js'
import { writeBatchOf } from '../../../broker/store/level/write-batch.js'
import type { NewMessage } from '../../../broker/store/ports.js'
import type { Conversation } from '../../../shared/protocol.js'
import { tempDataDir } from '../../helpers/broker.js'

const conversation = (cid: string): Conversation => ({
  cid, kind: 'group', createdAt: 1, createdBy: 'alice', lastSeq: 0,
  members: [{ uid: 'alice', role: 'owner', joinedAt: 1, readSeq: 0 }, { uid: 'bob', role: 'member', joinedAt: 1, readSeq: 0 }]
})
const draft = (cid: string, cmid: string): NewMessage => ({ id: randomUUID(), cid, from: 'alice', ts: 1, type: 'text', body: { text: cmid }, cmid })

async function withDb (test: (db: RootDb) => Promise<void>): Promise<void> {
  const dir = tempDataDir()
  const db = await openLevel(dir)
  try { await test(db) } finally { await db.close(); rmSync(dir, { recursive: true, force: true }) }
}

describe('embedded store: appends that overlap their writes', () => {
  it('gives no seq twice when a conversation leaves the cache while its write is on the way', () => withDb(async (db) => {
    const stores = openImStores(db, { cachedConversations: 2 })
    for (const cid of ['c1', 'c2', 'c3']) await stores.conversations.create(conversation(cid))
    await stores.conversations.get('c1') // cached: c3, c1
    // a big write keeps the disk busy: the writes asked for meanwhile wait for the next batch
    const filler = Buffer.alloc(64 * 1024, 1)
    const busy = writeBatchOf(db).write(Array.from({ length: 500 }, (_, i) => ({ type: 'put' as const, sublevel: sublevels(db).conversations, key: `filler-${i}`, value: filler, valueEncoding: 'buffer' as const })))
    const first = ['c1', 'c3', 'c2'].map(async (cid) => await stores.messages.append(draft(cid, `${cid}-1`)))
    // c3's and c2's seqs are taken (not yet written): c1 is the least recent of three in a cache of two
    while ((await stores.conversations.get('c2'))?.lastSeq !== 1 || (await stores.conversations.get('c3'))?.lastSeq !== 1) await new Promise((resolve) => setImmediate(resolve))
    const second = await stores.messages.append(draft('c1', 'c1-2'))
    assert.equal(second.message.seq, 2, 'c1 carries on from its unwritten seq 1, not from the disk')
    await Promise.all([busy, ...first])
    assert.deepEqual((await stores.messages.after('c1', 0, 10)).map((m) => [m.seq, m.cmid]), [[1, 'c1-1'], [2, 'c1-2']])
  }))

  it('fails the messages of a failed batch, and the next message takes the first seq not written: no gap', () => withDb(async (db) => {
    const stores = openImStores(db)
    await stores.conversations.create(conversation('c1'))
    for (const cmid of ['m1', 'm2']) await stores.messages.append(draft('c1', cmid))
    // in one turn: two sends and a write LevelDB refuses, all in one batch
    const doomed = [stores.messages.append(draft('c1', 'm3')), stores.messages.append(draft('c1', 'm4'))]
    const bad = writeBatchOf(db).write([{ type: 'put', sublevel: sublevels(db).conversations, key: 'broken', value: undefined }])
    const outcomes = await Promise.allSettled([...doomed, bad])
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected'])

    const next = await stores.messages.append(draft('c1', 'm5'))
    assert.equal(next.message.seq, 3, 'the seq the failed batch would have taken is given again')
    const retried = await stores.messages.append(draft('c1', 'm3'))
    assert.deepEqual([retried.created, retried.message.seq], [true, 4], 'a failed message was never stored: its retry is new')
    assert.deepEqual((await stores.messages.after('c1', 0, 10)).map((m) => [m.seq, m.cmid]), [[1, 'm1'], [2, 'm2'], [3, 'm5'], [4, 'm3']])
    assert.equal((await stores.conversations.get('c1'))?.lastSeq, 4)
  }))
})
