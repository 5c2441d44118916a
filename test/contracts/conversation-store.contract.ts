/**
 * The `ConversationStore` half of the IM store contract: conversations, members, invitations and
 * read positions. [IM-READ-2] [IM-CONV-2]
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { type ImStoreFixture, appendMany, conversation, draft, readSeqOf, storesFrom } from './im-store.fixtures.js'

export function runConversationStoreContract (build: () => Promise<ImStoreFixture>): void {
  const withStores = storesFrom(build)

  // ---- conversations ----

  it('creates a conversation once: true, then false and nothing changes', withStores(async (s) => {
    assert.equal(await s.conversations.get('c1'), undefined)
    const original = conversation('c1', ['alice', 'bob'], { title: 'First' })
    assert.equal(await s.conversations.create(original), true)
    assert.deepEqual(await s.conversations.get('c1'), original)

    assert.equal(await s.conversations.create(conversation('c1', ['alice', 'bob', 'eve'], { title: 'Second', lastSeq: 7 })), false)
    assert.deepEqual(await s.conversations.get('c1'), original)
    assert.deepEqual(await s.conversations.cidsOf('eve'), [], 'a refused create must not index its members')
  }))

  it('lets exactly one of several racing creates of one cid win', withStores(async (s) => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.conversations.create(conversation('race', ['alice'], { title: `t${i}` }))))
    assert.equal(results.filter((created) => created).length, 1)
    const winner = results.indexOf(true)
    assert.equal((await s.conversations.get('race'))?.title, `t${winner}`)
  }))

  it('lists exactly the conversations a uid is a member of, not those of a uid it prefixes', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice', 'bob']))
    await s.conversations.create(conversation('c2', ['carol', 'alice']))
    await s.conversations.create(conversation('c3', ['al', 'bob']))
    await s.conversations.create(conversation('c4', ['alice_2', 'al-x']))
    assert.deepEqual((await s.conversations.cidsOf('alice')).sort(), ['c1', 'c2'])
    assert.deepEqual(await s.conversations.cidsOf('al'), ['c3'])
    assert.deepEqual((await s.conversations.cidsOf('bob')).sort(), ['c1', 'c3'])
    assert.deepEqual(await s.conversations.cidsOf('a'), [])
    assert.deepEqual(await s.conversations.cidsOf('nobody'), [])
  }))

  it('pages a uid\'s conversations in cid order after a cursor', withStores(async (s) => {
    for (const cid of ['g5', 'g1', 'g3', 'g2', 'g4']) await s.conversations.create(conversation(cid, ['pat', 'quinn']))
    await s.conversations.create(conversation('g0', ['pa']))
    assert.deepEqual(await s.conversations.cidsOf('pat', { limit: 2 }), ['g1', 'g2'])
    assert.deepEqual(await s.conversations.cidsOf('pat', { after: 'g2', limit: 2 }), ['g3', 'g4'])
    assert.deepEqual(await s.conversations.cidsOf('pat', { after: 'g4', limit: 2 }), ['g5'])
    assert.deepEqual(await s.conversations.cidsOf('pat', { after: 'g5', limit: 2 }), [])
    assert.deepEqual(await s.conversations.cidsOf('pat', { after: 'g2' }), ['g3', 'g4', 'g5'])
    assert.deepEqual(await s.conversations.cidsOf('pat'), ['g1', 'g2', 'g3', 'g4', 'g5'])
  }))

  it('lists the invitations a uid has not accepted, with who invited it when, through create, add, accept and remove [IM-CONV-2]', withStores(async (s) => {
    const pending = (uid: string, by: string, at: number) => ({ uid, role: 'member' as const, joinedAt: at, readSeq: 0, pending: true, invitedBy: by })
    const owner = { uid: 'owner', role: 'owner' as const, joinedAt: 1, readSeq: 0 }
    await s.conversations.create({ ...conversation('p1', ['owner']), members: [owner, pending('zed', 'owner', 10)] })
    await s.conversations.create({ ...conversation('p2', ['owner']), members: [owner, pending('zed', 'olga', 20)] })
    await s.conversations.addMember('p3-missing', pending('zed', 'owner', 25)).catch(() => undefined)
    await s.conversations.create(conversation('p3', ['owner']))
    await s.conversations.addMember('p3', pending('zed', 'owner', 30))
    await s.conversations.addMember('p3', pending('zeddy', 'owner', 31))
    const sorted = async (uid: string) => (await s.conversations.invitationsOf(uid)).sort((a, b) => a.cid.localeCompare(b.cid))
    assert.deepEqual(await sorted('zed'), [{ cid: 'p1', by: 'owner', at: 10 }, { cid: 'p2', by: 'olga', at: 20 }, { cid: 'p3', by: 'owner', at: 30 }])
    assert.deepEqual(await s.conversations.invitationsOf('ze'), [])
    assert.deepEqual(await s.conversations.invitationsOf('owner'), [])
    // accepting: the member stays, the invitation goes
    await s.conversations.update('p1', (c) => ({ ...c, members: c.members.map((m) => m.uid === 'zed' ? { ...m, pending: false } : m) }))
    assert.deepEqual((await sorted('zed')).map((i) => i.cid), ['p2', 'p3'])
    assert.deepEqual((await s.conversations.cidsOf('zed')).sort(), ['p1', 'p2', 'p3'])
    await s.conversations.removeMember('p2', 'zed')
    assert.deepEqual((await sorted('zed')).map((i) => i.cid), ['p3'])
    await s.conversations.update('p3', (c) => ({ ...c, members: c.members.filter((m) => m.uid !== 'zed') }))
    assert.deepEqual(await s.conversations.invitationsOf('zed'), [])
    assert.deepEqual((await s.conversations.invitationsOf('zeddy')).map((i) => i.cid), ['p3'])
  }))

  it('keeps a held invitee in the record but indexes nothing under its uid, and indexes it once it is no longer held [IM-CONV-2]', withStores(async (s) => {
    const owner = { uid: 'owner', role: 'owner' as const, joinedAt: 1, readSeq: 0 }
    const held = { uid: 'hank', role: 'member' as const, joinedAt: 5, readSeq: 0, pending: true, invitedBy: 'owner', held: true }
    await s.conversations.create({ ...conversation('h1', ['owner']), members: [owner, held] })
    await s.conversations.create(conversation('h2', ['owner']))
    await s.conversations.addMember('h2', { ...held, joinedAt: 6 })
    assert.deepEqual((await s.conversations.get('h1'))?.members.find((m) => m.uid === 'hank'), held, 'the record keeps it as given')
    assert.deepEqual(await s.conversations.cidsOf('hank'), [])
    assert.deepEqual(await s.conversations.invitationsOf('hank'), [])
    // delivered: pending and indexed
    await s.conversations.update('h1', (c) => ({ ...c, members: c.members.map((m) => m.uid === 'hank' ? { ...m, held: undefined } : m) }))
    assert.deepEqual(await s.conversations.cidsOf('hank'), ['h1'])
    assert.deepEqual(await s.conversations.invitationsOf('hank'), [{ cid: 'h1', by: 'owner', at: 5 }])
    // displaced: held again, nothing left under its uid
    await s.conversations.update('h1', (c) => ({ ...c, members: c.members.map((m) => m.uid === 'hank' ? { ...m, held: true } : m) }))
    assert.deepEqual(await s.conversations.cidsOf('hank'), [])
    assert.deepEqual(await s.conversations.invitationsOf('hank'), [])
    // removing a held invitee leaves the others' indexes alone
    await s.conversations.removeMember('h2', 'hank')
    assert.deepEqual((await s.conversations.get('h2'))?.members.map((m) => m.uid), ['owner'])
    assert.deepEqual(await s.conversations.cidsOf('owner'), ['h1', 'h2'])
  }))

  it('adds a member once, and indexes the conversation under their uid', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice']))
    const bob = { uid: 'bob', role: 'member' as const, joinedAt: 5, readSeq: 0 }
    const added = await s.conversations.addMember('c1', bob)
    assert.deepEqual(added.members.map((m) => m.uid), ['alice', 'bob'])
    assert.deepEqual(await s.conversations.get('c1'), added)
    assert.deepEqual(await s.conversations.cidsOf('bob'), ['c1'])

    const again = await s.conversations.addMember('c1', { ...bob, joinedAt: 9 })
    assert.deepEqual(again, added, 'adding a member twice changes nothing')
    assert.deepEqual(await s.conversations.get('c1'), added)

    await Promise.all(Array.from({ length: 5 }, () => s.conversations.addMember('c1', { ...bob, uid: 'carol' })))
    assert.deepEqual((await s.conversations.get('c1'))?.members.map((m) => m.uid), ['alice', 'bob', 'carol'], 'racing adds of one uid add it once')
    assert.deepEqual(await s.conversations.cidsOf('carol'), ['c1'])
  }))

  it('removes a member from the conversation and from their list', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice', 'bob', 'carol']))
    await s.conversations.create(conversation('c2', ['bob']))
    const after = await s.conversations.removeMember('c1', 'bob')
    assert.deepEqual(after.members.map((m) => m.uid), ['alice', 'carol'])
    assert.deepEqual((await s.conversations.get('c1'))?.members.map((m) => m.uid), ['alice', 'carol'])
    assert.deepEqual(await s.conversations.cidsOf('bob'), ['c2'])
    assert.deepEqual(await s.conversations.cidsOf('alice'), ['c1'])
    await assert.rejects(s.conversations.markRead('c1', 'bob', 0), { code: 'IM_ERR_NOT_MEMBER' }, 'a removed member is no longer a member')
  }))

  it('rejects member changes on an unknown conversation with IM_ERR_NOT_FOUND', withStores(async (s) => {
    await assert.rejects(s.conversations.addMember('nope', { uid: 'bob', role: 'member', joinedAt: 1, readSeq: 0 }), { code: 'IM_ERR_NOT_FOUND' })
    await assert.rejects(s.conversations.removeMember('nope', 'bob'), { code: 'IM_ERR_NOT_FOUND' })
    assert.equal(await s.conversations.get('nope'), undefined)
    assert.deepEqual(await s.conversations.cidsOf('bob'), [])
  }))

  // ---- read positions ----

  it('moves a read position forward only, clamped to lastSeq, and returns it', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice', 'bob']))
    assert.equal(await s.conversations.markRead('c1', 'bob', 3), 0, 'nothing to read in an empty conversation')
    await appendMany(s, 'c1', 'alice', 5)

    assert.equal(await s.conversations.markRead('c1', 'bob', 3), 3)
    assert.equal(readSeqOf(await s.conversations.get('c1'), 'bob'), 3)
    assert.equal(await s.conversations.markRead('c1', 'bob', 2), 3, 'never backwards')
    assert.equal(await s.conversations.markRead('c1', 'bob', 0), 3, 'never backwards')
    assert.equal(readSeqOf(await s.conversations.get('c1'), 'bob'), 3)
    assert.equal(await s.conversations.markRead('c1', 'bob', 99), 5, 'never past lastSeq')
    assert.equal(readSeqOf(await s.conversations.get('c1'), 'bob'), 5)
    assert.equal(await s.conversations.markRead('c1', 'bob', 5), 5)

    await s.messages.append(draft('c1', 'alice', 'late'))
    assert.equal(await s.conversations.markRead('c1', 'bob', 6), 6)
    assert.equal(readSeqOf(await s.conversations.get('c1'), 'alice'), 6)
    assert.equal((await s.conversations.get('c1'))?.lastSeq, 6, 'reading does not move lastSeq')
  }))

  it('keeps the furthest of several racing read positions', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice', 'bob']))
    await appendMany(s, 'c1', 'alice', 10)
    await Promise.all([2, 7, 4, 1, 6].map((seq) => s.conversations.markRead('c1', 'bob', seq)))
    assert.equal(readSeqOf(await s.conversations.get('c1'), 'bob'), 7)
  }))

  it('rejects marking read by a non-member (IM_ERR_NOT_MEMBER) or in an unknown conversation (IM_ERR_NOT_FOUND)', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice', 'bob']))
    await s.messages.append(draft('c1', 'alice', 'm1'))
    await assert.rejects(s.conversations.markRead('c1', 'mallory', 1), { code: 'IM_ERR_NOT_MEMBER' })
    await assert.rejects(s.conversations.markRead('nope', 'alice', 1), { code: 'IM_ERR_NOT_FOUND' })
    assert.deepEqual((await s.conversations.get('c1'))?.members.map((m) => m.uid), ['alice', 'bob'])
  }))

  // ---- appending ----
}
