/**
 * The embedded store's conversation cache (conversation-state.ts) holds the conversations in use,
 * not every visitor's last chat: a closed support chat leaves it, and is read back from disk,
 * whole, when it is asked for. Counts of cached conversations, on a real LevelDB.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { describe, it } from 'node:test'
import { KeyedLock } from '../../../broker/lib/keyed-lock.js'
import { ConversationState } from '../../../broker/store/level/conversation-state.js'
import { LevelConversationStore } from '../../../broker/store/level/conversation-store.js'
import { sublevels } from '../../../broker/store/level/im-stores.js'
import { LevelMessageStore } from '../../../broker/store/level/message-store.js'
import { openLevel } from '../../../broker/store/level/open.js'
import { writeBatchOf } from '../../../broker/store/level/write-batch.js'
import type { Conversation } from '../../../shared/protocol.js'
import { tempDataDir } from '../../helpers/broker.js'

const VISITORS = 40

const group = (cid: string): Conversation => ({
  cid, kind: 'group', createdAt: 1, createdBy: 'alice', lastSeq: 0,
  members: [{ uid: 'alice', role: 'owner', joinedAt: 1, readSeq: 0 }, { uid: 'bob', role: 'member', joinedAt: 1, readSeq: 0 }]
})
const supportChat = (cid: string, visitor: string): Conversation => ({
  cid, kind: 'support', createdAt: 1, createdBy: visitor, lastSeq: 0,
  members: [{ uid: visitor, role: 'member', joinedAt: 1, readSeq: 0 }, { uid: 'agent-1', role: 'member', joinedAt: 1, readSeq: 0 }],
  support: { site: 'site-1', visitor, agent: 'agent-1', state: 'active', context: { url: 'https://shop.example/' }, queuedAt: 1, assignedAt: 2 }
})

describe('embedded store: the conversation cache', () => {
  it('lets a support chat go once it is closed, and reads it back whole from disk', async () => {
    const dir = tempDataDir()
    const root = await openLevel(dir)
    try {
      const db = sublevels(root)
      const state = new ConversationState(db)
      const parts = { db, lock: new KeyedLock(), batch: writeBatchOf(root), state }
      const conversations = new LevelConversationStore(parts)
      const messages = new LevelMessageStore(parts)
      for (const cid of ['g1', 'g2', 'g3']) await conversations.create(group(cid))
      const idle = state.size
      assert.equal(idle, 3)

      // visitors come, write once, and their chats are closed
      for (let i = 0; i < VISITORS; i++) {
        const cid = `s${i}`
        await conversations.create(supportChat(cid, `v${i}`))
        await messages.append({ id: randomUUID(), cid, from: `v${i}`, ts: 3, type: 'text', body: { text: 'hello' }, cmid: `c${i}` })
      }
      assert.equal(state.size, idle + VISITORS, 'open chats are cached')
      for (let i = 0; i < VISITORS; i++) {
        await conversations.update(`s${i}`, (c) => ({ ...c, support: { ...c.support!, state: 'closed', closedAt: 4, closedReason: 'visitor' } }))
      }
      assert.equal(state.size, idle, 'the closed chats left the cache: only the conversations in use are held')

      // asked for again (a rating, the history), a closed chat is read from disk, whole, and not kept
      const closed = await conversations.get('s7')
      assert.equal(closed?.support?.state, 'closed')
      assert.equal(closed?.lastSeq, 1)
      assert.equal(closed?.members.find((m) => m.uid === 'v7')?.readSeq, 1)
      const rated = await conversations.update('s7', (c) => ({ ...c, support: { ...c.support!, rating: { score: 5 } } }))
      assert.deepEqual(rated.support?.rating, { score: 5 })
      assert.deepEqual((await conversations.get('s7'))?.support?.rating, { score: 5 })
      assert.equal(state.size, idle)
    } finally {
      await root.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
