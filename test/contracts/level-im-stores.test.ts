import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { describe, it } from 'node:test'
import { openImStores } from '../../broker/store/level/im-stores.js'
import { openLevel } from '../../broker/store/level/open.js'
import { tempDataDir } from '../helpers/broker.js'
import { runImStoreContract } from './im-store.contract.js'

describe('embedded (LevelDB) conversation and message stores', () => {
  runImStoreContract(async () => {
    const dir = tempDataDir()
    const db = await openLevel(dir)
    return {
      ...openImStores(db),
      close: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }) }
    }
  })

  it('keeps conversations, messages, read positions and cmids across a close and reopen', async () => {
    const dir = tempDataDir()
    try {
      let db = await openLevel(dir)
      let stores = openImStores(db)
      await stores.conversations.create({
        cid: 'c1', kind: 'group', title: 'Kept', createdAt: 1, createdBy: 'alice', lastSeq: 0,
        members: [{ uid: 'alice', role: 'owner', joinedAt: 1, readSeq: 0 }, { uid: 'bob', role: 'member', joinedAt: 1, readSeq: 0 }]
      })
      const sent = []
      for (const cmid of ['k1', 'k2', 'k3']) {
        sent.push((await stores.messages.append({ id: `id-${cmid}`, cid: 'c1', from: 'alice', ts: 1, type: 'text', body: { text: cmid }, cmid })).message)
      }
      await stores.conversations.markRead('c1', 'bob', 2)
      await stores.conversations.addMember('c1', { uid: 'carol', role: 'member', joinedAt: 2, readSeq: 0 })
      const recalled = { ...sent[0]!, body: null, recalledAt: 9 }
      await stores.messages.update(recalled)
      const before = await stores.conversations.get('c1')
      await db.close()

      db = await openLevel(dir)
      stores = openImStores(db)
      try {
        assert.deepEqual(await stores.conversations.get('c1'), before)
        assert.equal(before?.lastSeq, 3)
        assert.deepEqual(before?.members.map((m) => [m.uid, m.readSeq]), [['alice', 3], ['bob', 2], ['carol', 0]])
        assert.deepEqual(await stores.conversations.cidsOf('carol'), ['c1'])
        assert.deepEqual(await stores.messages.after('c1', 0, 10), [recalled, sent[1], sent[2]])
        assert.deepEqual(await stores.messages.get('c1', 'id-k2'), sent[1])

        const retry = await stores.messages.append({ id: 'id-again', cid: 'c1', from: 'alice', ts: 2, type: 'text', body: { text: 'again' }, cmid: 'k3' })
        assert.deepEqual(retry, { created: false, message: sent[2] }, 'the cmid index survives a restart')
        await (stores.messages as unknown as { loaded: Promise<void> }).loaded
        const later = await stores.messages.append({ id: 'id-later', cid: 'c1', from: 'alice', ts: 2, type: 'text', body: { text: 'later' }, cmid: 'k2' })
        assert.deepEqual(later, { created: false, message: sent[1] }, 'the cmid filter, once loaded, knows the cmids stored before the restart')
        const next = await stores.messages.append({ id: 'id-k4', cid: 'c1', from: 'bob', ts: 2, type: 'text', body: { text: 'k4' }, cmid: 'k4' })
        assert.equal(next.message.seq, 4, 'seq carries on after a restart')
      } finally { await db.close() }
    } finally { rmSync(dir, { recursive: true, force: true }) }
  })

  it('reads a conversation stored before seq and read positions had keys of their own, and carries on from it', async () => {
    const dir = tempDataDir()
    const db = await openLevel(dir)
    try {
      // the earlier layout: lastSeq and readSeq inside the record, the messages under it
      const record = {
        cid: 'old', kind: 'direct', createdAt: 1, createdBy: 'alice', lastSeq: 2,
        members: [{ uid: 'alice', role: 'member', joinedAt: 1, readSeq: 2 }, { uid: 'bob', role: 'member', joinedAt: 1, readSeq: 1 }]
      }
      await db.sublevel<string, unknown>('conversations', { valueEncoding: 'json' }).put('old', record)
      const stores = openImStores(db)
      assert.deepEqual(await stores.conversations.get('old'), record)
      const next = await stores.messages.append({ id: 'id-3', cid: 'old', from: 'bob', ts: 3, type: 'text', body: { text: 'three' }, cmid: 'b3' })
      assert.equal(next.message.seq, 3)
      assert.deepEqual((await stores.conversations.get('old'))?.members.map((m) => [m.uid, m.readSeq]), [['alice', 2], ['bob', 3]])
      assert.equal(await stores.conversations.markRead('old', 'alice', 3), 3)
    } finally {
      await db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
