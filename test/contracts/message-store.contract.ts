/**
 * The `MessageStore` half of the IM store contract: per-conversation seq, idempotent appends by
 * cmid, history. [IM-SEQ-1] [IM-IDEM-1]
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { it } from 'node:test'
import type { NewMessage } from '../../broker/store/ports.js'
import type { Message } from '../../shared/protocol.js'
import { type ImStoreFixture, appendMany, conversation, draft, range, readSeqOf, seqs, storesFrom } from './im-store.fixtures.js'

export function runMessageStoreContract (build: () => Promise<ImStoreFixture>): void {
  const withStores = storesFrom(build)

  it('numbers each conversation 1, 2, 3… on its own', withStores(async (s) => {
    await s.conversations.create(conversation('a', ['alice', 'bob']))
    await s.conversations.create(conversation('b', ['alice', 'bob']))
    const order: Array<[string, string]> = [['a', 'alice'], ['a', 'bob'], ['b', 'alice'], ['a', 'alice'], ['b', 'bob']]
    const got = []
    for (const [i, [cid, from]] of order.entries()) {
      const { message, created } = await s.messages.append(draft(cid, from, `x${i}`))
      assert.equal(created, true)
      got.push(message.seq)
    }
    assert.deepEqual(got, [1, 2, 1, 3, 2])
    assert.equal((await s.conversations.get('a'))?.lastSeq, 3)
    assert.equal((await s.conversations.get('b'))?.lastSeq, 2)
  }))

  it('stores the message as given, with its seq', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice']))
    const d: NewMessage = { ...draft('c1', 'alice', 'k1'), type: 'custom', body: { kind: 'card', data: { a: [1, 2], b: null } }, ts: 1234 }
    const { message } = await s.messages.append(d)
    assert.deepEqual(message, { ...d, seq: 1 })
    assert.deepEqual(await s.messages.get('c1', d.id), message)
    assert.deepEqual(await s.messages.last('c1'), message)
  }))

  it('gives 200 racing appends from several senders seq 1..200, each exactly once', withStores(async (s) => {
    const senders = ['alice', 'bob', 'carol', 'dave']
    await s.conversations.create(conversation('busy', senders))
    const drafts = Array.from({ length: 200 }, (_, i) => draft('busy', senders[i % senders.length] ?? 'alice', `k${i}`))
    const results = await Promise.all(drafts.map((d) => s.messages.append(d)))

    assert.ok(results.every((r) => r.created))
    assert.deepEqual(results.map((r) => r.message.seq).sort((x, y) => x - y), range(1, 200), 'no gap, no duplicate')
    const stored = await s.messages.after('busy', 0, 500)
    assert.deepEqual(seqs(stored), range(1, 200))
    assert.deepEqual(new Set(stored.map((m) => m.id)), new Set(drafts.map((d) => d.id)))
    for (const r of results) assert.equal(stored[r.message.seq - 1]?.id, r.message.id, 'the stored message has the seq append returned')

    const conv = await s.conversations.get('busy')
    assert.equal(conv?.lastSeq, 200)
    for (const uid of senders) {
      const newest = Math.max(...results.filter((r) => r.message.from === uid).map((r) => r.message.seq))
      assert.equal(readSeqOf(conv, uid), newest, `${uid} has read up to their own newest message`)
    }
  }))

  it('keeps racing appends to two conversations apart', withStores(async (s) => {
    await s.conversations.create(conversation('left', ['alice']))
    await s.conversations.create(conversation('right', ['alice']))
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => s.messages.append(draft(i % 2 === 0 ? 'left' : 'right', 'alice', `k${i}`))))
    for (const cid of ['left', 'right']) {
      assert.deepEqual(results.filter((r) => r.message.cid === cid).map((r) => r.message.seq).sort((x, y) => x - y), range(1, 100))
      const stored = await s.messages.after(cid, 0, 500)
      assert.deepEqual(seqs(stored), range(1, 100))
      assert.ok(stored.every((m) => m.cid === cid), `only ${cid}'s messages are listed`)
      assert.equal((await s.conversations.get(cid))?.lastSeq, 100)
    }
  }))

  it('commits racing appends across 20 conversations together: each gap-free in call order, retried cmids stored once', withStores(async (s) => {
    const cids = Array.from({ length: 20 }, (_, i) => `g${i}`)
    for (const cid of cids) await s.conversations.create(conversation(cid, ['alice', 'bob']))
    // every conversation gets 10 sends in one burst, and each send is retried once at once
    const calls = cids.flatMap((cid) => Array.from({ length: 10 }, (_, i) => draft(cid, i % 2 === 0 ? 'alice' : 'bob', `${cid}-c${i}`)))
    const results = await Promise.all(calls.flatMap((d) => [s.messages.append(d), s.messages.append({ ...d, id: randomUUID() })]))
    for (const cid of cids) {
      const stored = await s.messages.after(cid, 0, 100)
      assert.deepEqual(seqs(stored), range(1, 10), `${cid} is numbered 1..10 without a gap`)
      assert.deepEqual(stored.map((m) => m.cmid), range(0, 9).map((i) => `${cid}-c${i}`), `${cid} keeps the order of the calls`)
      assert.equal((await s.conversations.get(cid))?.lastSeq, 10)
    }
    assert.equal(results.filter((r) => r.created).length, 200, 'each cmid stored once')
    for (let i = 0; i < results.length; i += 2) assert.deepEqual(results[i + 1]!.message, results[i]!.message, 'the retry returns the original')
  }))

  it('loses no member change or read position to racing appends', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice', 'carol']))
    const newcomers = ['bob', 'dave', 'erin']
    const [appends, added, read] = await Promise.all([
      Promise.all(Array.from({ length: 50 }, (_, i) => s.messages.append(draft('c1', 'alice', `k${i}`)))),
      Promise.all(newcomers.map((uid) => s.conversations.addMember('c1', { uid, role: 'member', joinedAt: 2, readSeq: 0 }))),
      s.conversations.markRead('c1', 'carol', 30)
    ])
    assert.equal(appends.length, 50)
    assert.equal(added.length, 3)
    const conv = await s.conversations.get('c1')
    assert.equal(conv?.lastSeq, 50)
    assert.deepEqual(conv?.members.map((m) => m.uid).sort(), ['alice', 'bob', 'carol', 'dave', 'erin'])
    assert.equal(readSeqOf(conv, 'alice'), 50)
    assert.equal(readSeqOf(conv, 'carol'), read, 'the read position markRead returned is the one stored')
    assert.ok(read <= 30)
  }))

  it('rejects an append to an unknown conversation with IM_ERR_NOT_FOUND, storing nothing', withStores(async (s) => {
    const d = draft('ghost', 'alice', 'k1')
    await assert.rejects(s.messages.append(d), { code: 'IM_ERR_NOT_FOUND' })
    assert.equal(await s.conversations.get('ghost'), undefined)
    assert.deepEqual(await s.messages.after('ghost', 0, 10), [])
    assert.equal(await s.messages.last('ghost'), undefined)
    assert.equal(await s.messages.get('ghost', d.id), undefined)
    // the cmid was not spent: once the conversation exists the same send is new
    await s.conversations.create(conversation('ghost', ['alice']))
    const { created, message } = await s.messages.append(draft('ghost', 'alice', 'k1'))
    assert.equal(created, true)
    assert.equal(message.seq, 1)
  }))

  it("moves the sender's read position to their new message and leaves others' alone", withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice', 'bob', 'carol']))
    await s.messages.append(draft('c1', 'alice', 'a1'))
    let conv = await s.conversations.get('c1')
    assert.deepEqual([readSeqOf(conv, 'alice'), readSeqOf(conv, 'bob'), readSeqOf(conv, 'carol')], [1, 0, 0])

    await s.conversations.markRead('c1', 'bob', 1)
    await s.messages.append(draft('c1', 'alice', 'a2'))
    await s.messages.append(draft('c1', 'carol', 'c1'))
    conv = await s.conversations.get('c1')
    assert.deepEqual([readSeqOf(conv, 'alice'), readSeqOf(conv, 'bob'), readSeqOf(conv, 'carol')], [2, 1, 3])
  }))

  // ---- idempotent sends [IM-IDEM-1] ----

  it('returns the original message for a cmid the sender already used, without a new seq', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice', 'bob']))
    const first = await s.messages.append(draft('c1', 'alice', 'same', 'original text'))
    await s.messages.append(draft('c1', 'bob', 'other'))
    assert.equal(first.created, true)

    const again = draft('c1', 'alice', 'same', 'different text')
    const retry = await s.messages.append(again)
    assert.equal(retry.created, false)
    assert.deepEqual(retry.message, first.message, 'same id, seq and body as the original')
    assert.deepEqual(retry.message.body, { text: 'original text' })

    assert.equal((await s.conversations.get('c1'))?.lastSeq, 2, 'a retry does not advance lastSeq')
    assert.deepEqual(seqs(await s.messages.after('c1', 0, 10)), [1, 2])
    assert.deepEqual(await s.messages.get('c1', first.message.id), first.message)
    assert.equal(await s.messages.get('c1', again.id), undefined, "the retry's own id was never stored")
    const next = await s.messages.append(draft('c1', 'alice', 'fresh'))
    assert.equal(next.message.seq, 3, 'the next new message takes the next seq')
  }))

  it('stores one message for 10 racing appends of one cmid', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice']))
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.messages.append(draft('c1', 'alice', 'dup', `try ${i}`))))
    assert.equal(results.filter((r) => r.created).length, 1)
    const original = results.find((r) => r.created)?.message
    for (const r of results) assert.deepEqual(r.message, original)
    assert.equal(original?.seq, 1)
    assert.equal((await s.conversations.get('c1'))?.lastSeq, 1)
    assert.deepEqual(await s.messages.after('c1', 0, 20), [original])
  }))

  it('treats the same cmid from another sender or in another conversation as a new message', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice', 'bob']))
    await s.conversations.create(conversation('c2', ['alice', 'bob']))
    const a1 = await s.messages.append(draft('c1', 'alice', 'k'))
    const b1 = await s.messages.append(draft('c1', 'bob', 'k'))
    const a2 = await s.messages.append(draft('c2', 'alice', 'k'))
    assert.deepEqual([a1.created, b1.created, a2.created], [true, true, true])
    assert.deepEqual([a1.message.seq, b1.message.seq, a2.message.seq], [1, 2, 1])
    assert.notEqual(a1.message.id, b1.message.id)
    assert.notEqual(a1.message.id, a2.message.id)
    assert.equal((await s.conversations.get('c1'))?.lastSeq, 2)
    assert.equal((await s.conversations.get('c2'))?.lastSeq, 1)
  }))

  // ---- history ----

  it('pages forward with after() and backward with before(), oldest first', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice']))
    await s.conversations.create(conversation('empty', ['alice']))
    const all = await appendMany(s, 'c1', 'alice', 25)

    assert.deepEqual(await s.messages.after('c1', 0, 100), all)
    assert.deepEqual(seqs(await s.messages.after('c1', 0, 10)), range(1, 10))
    assert.deepEqual(seqs(await s.messages.after('c1', 10, 10)), range(11, 20))
    assert.deepEqual(seqs(await s.messages.after('c1', 20, 10)), range(21, 25))
    assert.deepEqual(await s.messages.after('c1', 25, 10), [])
    assert.deepEqual(await s.messages.after('c1', 99, 10), [])
    assert.deepEqual(seqs(await s.messages.after('c1', 24, 1)), [25])

    assert.deepEqual(seqs(await s.messages.before('c1', 11, 5)), range(6, 10), 'the 5 just below 11')
    assert.deepEqual(seqs(await s.messages.before('c1', 26, 3)), [23, 24, 25])
    assert.deepEqual(seqs(await s.messages.before('c1', 1000, 3)), [23, 24, 25])
    assert.deepEqual(seqs(await s.messages.before('c1', 3, 5)), [1, 2])
    assert.deepEqual(await s.messages.before('c1', 1, 5), [])
    assert.deepEqual(await s.messages.before('c1', 26, 100), all)

    assert.deepEqual(await s.messages.last('c1'), all[24])
    assert.equal(await s.messages.last('empty'), undefined)
    assert.deepEqual(await s.messages.after('empty', 0, 10), [])
    assert.deepEqual(await s.messages.before('empty', 10, 10), [])
    assert.deepEqual(await s.messages.after('nope', 0, 10), [])
  }))

  it('finds a message by id only in its own conversation', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice']))
    await s.conversations.create(conversation('c2', ['alice']))
    const [m1, m2] = await appendMany(s, 'c1', 'alice', 2)
    const other = (await s.messages.append(draft('c2', 'alice', 'o1'))).message
    assert.ok(m1 && m2)
    assert.deepEqual(await s.messages.get('c1', m1.id), m1)
    assert.deepEqual(await s.messages.get('c1', m2.id), m2)
    assert.deepEqual(await s.messages.get('c2', other.id), other)
    assert.equal(await s.messages.get('c1', 'no-such-id'), undefined)
    assert.equal(await s.messages.get('c2', m1.id), undefined, 'a wrong cid finds nothing')
    assert.equal(await s.messages.get('nope', m1.id), undefined)
  }))

  it('keeps conversations whose cids share a prefix apart in history', withStores(async (s) => {
    for (const cid of ['c', 'c1', 'c-1', 'c_x', 'c.1', 'c:1']) await s.conversations.create(conversation(cid, ['alice']))
    const mine = await appendMany(s, 'c', 'alice', 3)
    for (const cid of ['c1', 'c-1', 'c_x', 'c.1', 'c:1']) await appendMany(s, cid, 'alice', 4)
    assert.deepEqual(await s.messages.after('c', 0, 100), mine)
    assert.deepEqual(await s.messages.before('c', 100, 100), mine)
    assert.deepEqual(await s.messages.last('c'), mine[2])
    assert.deepEqual(seqs(await s.messages.after('c1', 0, 100)), [1, 2, 3, 4])
  }))

  it('orders numerically past 1000 messages and across 9→10, 99→100, 999→1000', withStores(async (s) => {
    await s.conversations.create(conversation('long', ['alice', 'bob']))
    const all = await Promise.all(Array.from({ length: 1050 }, (_, i) => s.messages.append(draft('long', i % 3 === 0 ? 'bob' : 'alice', `k${i}`))))
    assert.equal((await s.conversations.get('long'))?.lastSeq, 1050)

    assert.deepEqual(seqs(await s.messages.after('long', 0, 5000)), range(1, 1050))
    assert.deepEqual(seqs(await s.messages.after('long', 0, 1000)), range(1, 1000), 'limit is respected')
    assert.deepEqual(seqs(await s.messages.after('long', 8, 3)), [9, 10, 11])
    assert.deepEqual(seqs(await s.messages.after('long', 98, 3)), [99, 100, 101])
    assert.deepEqual(seqs(await s.messages.after('long', 998, 3)), [999, 1000, 1001])
    assert.deepEqual(seqs(await s.messages.before('long', 11, 3)), [8, 9, 10])
    assert.deepEqual(seqs(await s.messages.before('long', 101, 3)), [98, 99, 100])
    assert.deepEqual(seqs(await s.messages.before('long', 1001, 3)), [998, 999, 1000])
    assert.deepEqual(seqs(await s.messages.before('long', 1051, 1050)), range(1, 1050))
    assert.equal((await s.messages.last('long'))?.seq, 1050)

    const thousandth = all.find((r) => r.message.seq === 1000)?.message
    assert.ok(thousandth)
    assert.deepEqual(await s.messages.get('long', thousandth.id), thousandth)
  }))

  // ---- changing a stored message ----

  it('replaces a message on update: a recall and an edit show in history', withStores(async (s) => {
    await s.conversations.create(conversation('c1', ['alice']))
    const [m1, m2, m3] = await appendMany(s, 'c1', 'alice', 3)
    assert.ok(m1 && m2 && m3)

    const recalled: Message = { ...m2, body: null, recalledAt: 5000 }
    await s.messages.update(recalled)
    assert.deepEqual(await s.messages.after('c1', 0, 10), [m1, recalled, m3])
    assert.deepEqual(await s.messages.get('c1', m2.id), recalled)
    assert.deepEqual(await s.messages.before('c1', 3, 10), [m1, recalled])

    const edited: Message = { ...m3, body: { text: 'fixed' }, editedAt: 6000 }
    await s.messages.update(edited)
    assert.deepEqual(await s.messages.last('c1'), edited)
    assert.deepEqual(await s.messages.after('c1', 0, 10), [m1, recalled, edited])
    assert.equal((await s.conversations.get('c1'))?.lastSeq, 3, 'an update is not a new message')

    const retry = await s.messages.append(draft('c1', 'alice', m2.cmid))
    assert.deepEqual(retry, { created: false, message: recalled }, 'a retry after a recall returns the message as it is now')
  }))
}
