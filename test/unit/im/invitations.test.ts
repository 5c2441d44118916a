/**
 * An invitation costs the same store round trips whoever the invitee is [IM-CONV-2]: the inviter
 * must not learn from the time of the answer that a uid exists. On real LevelDB stores, every
 * call the conversation service makes to its stores is recorded, for an invitee that exists and
 * has not agreed, and for uids that do not exist (or belong to a visitor, or a disabled principal).
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { ConversationService } from '../../../broker/im/conversations.js'
import type { EventPublisher } from '../../../broker/im/events.js'
import { openImStores } from '../../../broker/store/level/im-stores.js'
import { openLevel, type RootDb } from '../../../broker/store/level/open.js'
import { LevelPrincipalStore } from '../../../broker/store/level/principal-store.js'
import type { ConversationStore, MessageStore, PrincipalRecord, PrincipalStore } from '../../../broker/store/ports.js'
import { tempDataDir } from '../../helpers/broker.js'

/** `target` with every method call appended to `calls` as `{name}.{method}`. */
function recorded<T extends object> (name: string, target: T, calls: string[]): T {
  return new Proxy(target, {
    get (t, key, receiver) {
      const value: unknown = Reflect.get(t, key, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls.push(`${name}.${String(key)}`)
        return (value as (...a: unknown[]) => unknown).apply(t, args)
      }
    }
  })
}

const record = (uid: string, extra: Partial<PrincipalRecord> = {}): PrincipalRecord => ({ uid, role: 'user', grants: { presence: [], channels: [] }, createdAt: 1, updatedAt: 1, ...extra })

describe('invitations: the same store round trips whoever the invitee is', () => {
  const dir = tempDataDir()
  let root: RootDb
  let stores: { conversations: ConversationStore, messages: MessageStore, principals: PrincipalStore }
  const calls: string[] = []
  let service: ConversationService
  const events: EventPublisher = { toInbox: async () => {}, toInboxes: async () => {}, presence: async () => {}, queueStatus: async () => {} }

  before(async () => {
    root = await openLevel(dir)
    const im = openImStores(root)
    const principals = new LevelPrincipalStore(root)
    for (const uid of ['alice', 'bob', 'carol']) await principals.create(record(uid))
    await principals.create(record('dora', { disabled: true }))
    await principals.create(record('v_visitor0123456789abcdef', { role: 'visitor', site: 's' }))
    stores = { conversations: recorded('conversations', im.conversations, calls), messages: recorded('messages', im.messages, calls), principals: recorded('principals', principals, calls) }
    service = new ConversationService({ ...stores, events, now: () => 1000, limits: { maxGroupMembers: 10, maxPendingGroups: 5, maxPendingPerInviter: 2 } })
  })
  after(async () => {
    await root.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const callsOf = async (action: () => Promise<unknown>): Promise<string[]> => {
    calls.length = 0
    await action()
    return [...calls]
  }
  const alice = { uid: 'alice', role: 'user' as const }

  it('starting a direct conversation', async () => {
    const existing = await callsOf(async () => await service.create(alice, { kind: 'direct', members: ['bob'] }))
    assert.ok(existing.includes('principals.get') && existing.includes('conversations.invitationsOf') && existing.includes('conversations.create'), existing.join(' '))
    for (const other of ['nobody-here', 'v_visitor0123456789abcdef', 'dora']) {
      assert.deepEqual(await callsOf(async () => await service.create(alice, { kind: 'direct', members: [other] })), existing, other)
    }
    // asked again: no write for anyone
    const again = await callsOf(async () => await service.create(alice, { kind: 'direct', members: ['bob'] }))
    assert.deepEqual(await callsOf(async () => await service.create(alice, { kind: 'direct', members: ['nobody-here'] })), again)
    assert.ok(!again.includes('conversations.create') && !again.includes('conversations.update'), again.join(' '))
  })

  it('starting a group, and adding a member', async () => {
    const existing = await callsOf(async () => await service.create(alice, { kind: 'group', members: ['carol'] }))
    assert.deepEqual(await callsOf(async () => await service.create(alice, { kind: 'group', members: ['nobody-here'] })), existing)
    const { conv } = await service.create(alice, { kind: 'group', members: [] })
    const added = await callsOf(async () => await service.addMember(alice, conv.cid, 'bob'))
    assert.deepEqual(await callsOf(async () => await service.addMember(alice, conv.cid, 'nobody-else')), added)
    assert.deepEqual(await callsOf(async () => await service.addMember(alice, conv.cid, 'dora')), added)
  })
})
