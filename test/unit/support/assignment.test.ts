/**
 * What the cluster's leader repairs when a node died between two steps of an assignment
 * (broker/support/assignment.ts `reconcile`): a claim on a chat still waiting, a slot whose chat
 * closed, an active chat without a claim (a store written before claims existed). Killing a
 * node exactly between two of its store writes cannot be done on purpose, so these tests write
 * the state such a death leaves straight into a real (LevelDB) store, then run the repair.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { AgentRecord, ConversationStore, SupportStore } from '../../../broker/store/ports.js'
import { openImStores } from '../../../broker/store/level/im-stores.js'
import { openLevel, type RootDb } from '../../../broker/store/level/open.js'
import { LevelPrincipalStore } from '../../../broker/store/level/principal-store.js'
import { LevelSupportStore } from '../../../broker/store/level/support-store.js'
import { Assignments, STALE_CLAIM_MS } from '../../../broker/support/assignment.js'
import { tempDataDir } from '../../helpers/broker.js'
import { supportChat } from '../../contracts/support-store.contract.js'

const agent = (uid: string, capacity = 2): AgentRecord => ({ uid, status: 'online', capacity, idleSince: 0 })

describe('support assignment repairs', () => {
  let dir: string
  let root: RootDb
  let support: SupportStore
  let conversations: ConversationStore
  let assignments: Assignments
  const now = 1_000_000

  beforeEach(async () => {
    dir = tempDataDir()
    root = await openLevel(dir)
    support = new LevelSupportStore(root)
    conversations = openImStores(root).conversations
    assignments = new Assignments({ conversations, support, principals: new LevelPrincipalStore(root), now: () => now })
    await support.putAgent(agent('ag1'))
  })
  afterEach(async () => {
    await root.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** A chat created and indexed as the desk does. */
  const chat = async (cid: string, state: 'waiting' | 'active' | 'closed' = 'waiting'): Promise<void> => {
    const conv = supportChat(cid, now, state)
    await conversations.create(state === 'active' ? { ...conv, members: [...conv.members, { uid: 'ag1', role: 'member', joinedAt: now, readSeq: 0 }] } : conv)
    await support.indexOpen(conv)
  }

  it('frees the claim and slot of a chat still waiting long after a node claimed it, and keeps a fresh one', async () => {
    await chat('stale')
    await chat('fresh')
    // node X claimed both and took a slot for each, then died before writing the chats active
    await support.claim('stale', 'ag1', now - STALE_CLAIM_MS - 1)
    await support.takeSlot('ag1', 'stale', 2, now - STALE_CLAIM_MS - 1)
    await support.claim('fresh', 'ag1', now - 10)
    await support.takeSlot('ag1', 'fresh', 2, now - 10)
    await assignments.reconcile()
    assert.equal(await support.claimOf('stale'), undefined)
    assert.deepEqual((await support.claimOf('fresh'))?.agent, 'ag1', 'an assignment under way is left alone')
    assert.deepEqual((await support.getAgent('ag1'))?.active, ['fresh'])
    // the stale chat can be assigned again
    const outcome = await assignments.assign((await conversations.get('stale'))!, (await support.getAgent('ag1'))!)
    assert.ok('conv' in outcome && outcome.conv.support?.state === 'active')
  })

  it('releases a slot whose chat closed, or went to another agent, and keeps its own chat\'s', async () => {
    await chat('mine')
    const own = await assignments.assign((await conversations.get('mine'))!, (await support.getAgent('ag1'))!)
    assert.ok('conv' in own)
    await chat('gone', 'closed')
    await support.takeSlot('ag1', 'gone', 2, now + 1) // the node closed the chat and died before freeing the slot
    assert.deepEqual((await support.getAgent('ag1'))?.active, ['mine', 'gone'])
    await assignments.reconcile()
    assert.deepEqual((await support.getAgent('ag1'))?.active, ['mine'])
  })

  it('claims an active chat that has no claim, so it can be handed over', async () => {
    await chat('old', 'active') // active with ag1 from a store written before claims and slots
    await support.takeSlot('ag1', 'old', 2, now)
    await assignments.reconcile()
    assert.equal((await support.claimOf('old'))?.agent, 'ag1')
    await support.putAgent(agent('ag2'))
    const moved = await assignments.handOver((await conversations.get('old'))!, 'ag1', (await support.getAgent('ag2'))!)
    assert.equal(moved.support?.agent, 'ag2')
    assert.deepEqual((await support.getAgent('ag1'))?.active, [])
    assert.deepEqual((await support.getAgent('ag2'))?.active, ['old'])
  })

  it('gives the claim and the slot back when the chat closed while it was being assigned', async () => {
    await chat('closing')
    const waiting = (await conversations.get('closing'))!
    await conversations.update('closing', (c) => ({ ...c, support: { ...c.support!, state: 'closed', closedAt: now, closedReason: 'visitor' } }))
    const outcome = await assignments.assign(waiting, (await support.getAgent('ag1'))!)
    assert.deepEqual(outcome, { lost: 'taken' })
    assert.equal(await support.claimOf('closing'), undefined)
    assert.deepEqual((await support.getAgent('ag1'))?.active, [])
    assert.equal((await conversations.get('closing'))?.support?.state, 'closed')
  })
})
