import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Conversation, Message } from '../../../shared/protocol.js'
import { activeChats, attention, contiguousSeq, isMine, mergeMessages, newChat, recentChats, unreadCount, visitorName } from '../../../console/state/chat.js'
import { en } from '../../../console/i18n/en.js'
import { matchLocale } from '../../../console/i18n/localize.js'
import { zhCN } from '../../../console/i18n/zh-CN.js'

const support = (cid: string, over: Partial<NonNullable<Conversation['support']>> = {}): Conversation => ({
  cid,
  kind: 'support',
  members: [{ uid: 'v1', role: 'member', joinedAt: 1, readSeq: 2 }, { uid: 'a1', role: 'member', joinedAt: 1, readSeq: 1 }],
  createdAt: 1,
  createdBy: 'v1',
  lastSeq: 0,
  support: { site: 's', visitor: 'v1', agent: 'a1', state: 'active', context: {}, queuedAt: 1, assignedAt: 2, ...over }
})
const msg = (cid: string, seq: number, from = 'v1', extra: Partial<Message> = {}): Message =>
  ({ id: `${cid}-${seq}`, cid, seq, from, ts: seq, type: 'text', body: { text: `m${seq}` }, cmid: `c${seq}`, ...extra })

describe('console chat state', () => {
  it('merges live and fetched messages by seq, each once, the stored copy winning', () => {
    const chat = newChat(support('s1'), 'a1')
    assert.equal(chat.myReadSeq, 1)
    assert.equal(chat.peerReadSeq, 2)
    assert.deepEqual(mergeMessages(chat, [msg('s1', 3)]).map((m) => m.seq), [3])
    assert.equal(contiguousSeq(chat), 0)
    assert.deepEqual(mergeMessages(chat, [msg('s1', 1), msg('s1', 2), msg('s1', 3, 'v1', { body: null, recalledAt: 9 }), msg('other', 4)]).map((m) => m.seq), [1, 2])
    assert.deepEqual(chat.messages.map((m) => m.seq), [1, 2, 3])
    assert.equal(chat.messages[2]?.recalledAt, 9)
    assert.equal(contiguousSeq(chat), 3)
    assert.equal(chat.conv.lastSeq, 3)
  })

  it('counts the visitor\'s messages after the agent\'s read position, and new chats, for the badge', () => {
    const chat = newChat(support('s1'), 'a1')
    chat.unreadHint = 4
    assert.equal(unreadCount(chat, 'a1'), 4)
    mergeMessages(chat, [msg('s1', 1), msg('s1', 2), msg('s1', 3, 'a1')])
    assert.equal(unreadCount(chat, 'a1'), 1)
    const fresh = newChat(support('s2'), 'a1')
    fresh.fresh = true
    assert.equal(attention([chat, fresh], 'a1'), 2)
  })

  it('tells the agent\'s own chats from closed and handed-away ones', () => {
    const mine = newChat(support('s1', { assignedAt: 5 }), 'a1')
    const older = newChat(support('s0', { assignedAt: 3 }), 'a1')
    const closed = newChat(support('s2', { state: 'closed', closedAt: 9 }), 'a1')
    const handed = newChat(support('s3'), 'a1')
    handed.handedTo = 'a2'
    assert.equal(isMine(mine, 'a1'), true)
    assert.equal(isMine(mine, 'a2'), false)
    assert.deepEqual(activeChats([mine, closed, handed, older], 'a1').map((c) => c.conv.cid), ['s0', 's1'])
    assert.deepEqual(recentChats([mine, closed, handed, older], 'a1', 10).map((c) => c.conv.cid), ['s2', 's3'])
  })

  it('names the visitor by the pre-chat name, else by uid', () => {
    assert.equal(visitorName(support('s1', { context: { name: '  Ada ' } })), 'Ada')
    assert.equal(visitorName(support('s1')), 'v1')
  })
})

describe('console translations', () => {
  it('picks Simplified Chinese for any zh preference, English otherwise', () => {
    assert.equal(matchLocale(['zh-TW', 'en']), 'zh-CN')
    assert.equal(matchLocale(['fr-FR', 'en-GB']), 'en')
    assert.equal(matchLocale(['de']), 'en')
    assert.equal(matchLocale([]), 'en')
  })

  it('has the same keys in English and Simplified Chinese, and words for plurals and durations', () => {
    const keys = (o: object): string[] => Object.keys(o).sort()
    assert.deepEqual(keys(zhCN), keys(en))
    for (const [name, value] of Object.entries(en)) {
      const other = (zhCN as unknown as Record<string, unknown>)[name]
      if (value !== null && typeof value === 'object') assert.deepEqual(keys(other as object), keys(value), name)
    }
    assert.equal(en.unread(1), '1 unread message')
    assert.equal(en.unread(2), '2 unread messages')
    assert.equal(en.duration(125_000), '2 min 5 s')
    assert.equal(zhCN.duration(125_000), '2 分 5 秒')
  })
})
