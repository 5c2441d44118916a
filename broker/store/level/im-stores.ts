/**
 * Conversations and messages in the embedded store. Keys are chosen so every query is a key range:
 *
 *   conversations  {cid}                  → Conversation (members with read positions, lastSeq)
 *   member-of      {uid}!{cid}            → ''            (a principal's conversations)
 *   messages       {cid}!{seq, 12 digits} → Message       (history by seq range)
 *   message-ids    {cid}!{id}             → seq
 *   cmids          {from}!{cid}!{cmid}    → seq           (idempotent sends)
 *
 * Everything that changes one conversation runs alone for that cid (KeyedLock) and is written
 * in one LevelDB batch, so a crash leaves either all of it or none of it. [IM-SEQ-1]
 */
import { ImError } from '../../../shared/errors.js'
import type { Conversation, Member, Message } from '../../../shared/protocol.js'
import type { AppendResult, ConversationStore, MessageStore, NewMessage } from '../ports.js'
import { KeyedLock } from '../../lib/keyed-lock.js'
import type { RootDb } from './open.js'

const pad = (seq: number): string => String(seq).padStart(12, '0')
/** '!' separates key parts; '"' is the next character, so `{p}!`…`{p}"` spans exactly the keys under `p`. */
const under = (prefix: string) => ({ gt: `${prefix}!`, lt: `${prefix}"` })

function sublevels (root: RootDb) {
  return {
    conversations: root.sublevel<string, Conversation>('conversations', { valueEncoding: 'json' }),
    memberOf: root.sublevel<string, string>('member-of', { valueEncoding: 'utf8' }),
    messages: root.sublevel<string, Message>('messages', { valueEncoding: 'json' }),
    messageIds: root.sublevel<string, string>('message-ids', { valueEncoding: 'utf8' }),
    cmids: root.sublevel<string, string>('cmids', { valueEncoding: 'utf8' })
  }
}
type Sublevels = ReturnType<typeof sublevels>

/** One atomic write across sublevels; each op's key and value are encoded by its own sublevel. */
async function atomically (root: RootDb, ops: Array<{ type: 'put' | 'del', sublevel: unknown, key: string, value?: unknown }>): Promise<void> {
  await (root.batch as (ops: unknown[]) => Promise<void>).call(root, ops)
}

export function openImStores (root: RootDb): { conversations: ConversationStore, messages: MessageStore } {
  const db = sublevels(root)
  const lock = new KeyedLock()
  return { conversations: new LevelConversationStore(root, db, lock), messages: new LevelMessageStore(root, db, lock) }
}

class LevelConversationStore implements ConversationStore {
  constructor (readonly root: RootDb, readonly db: Sublevels, readonly lock: KeyedLock) {}

  async create (conversation: Conversation): Promise<boolean> {
    return await this.lock.run(conversation.cid, async () => {
      if (await this.db.conversations.get(conversation.cid) !== undefined) return false
      await atomically(this.root, [
        { type: 'put', sublevel: this.db.conversations, key: conversation.cid, value: conversation },
        ...conversation.members.map((m) => ({ type: 'put' as const, sublevel: this.db.memberOf, key: `${m.uid}!${conversation.cid}`, value: '' }))
      ])
      return true
    })
  }

  async get (cid: string): Promise<Conversation | undefined> {
    return await this.db.conversations.get(cid)
  }

  async cidsOf (uid: string): Promise<string[]> {
    const keys = await this.db.memberOf.keys(under(uid)).all()
    return keys.map((k) => k.slice(uid.length + 1))
  }

  async addMember (cid: string, member: Member): Promise<Conversation> {
    return await this.#change(cid, async (conv) => {
      if (conv.members.some((m) => m.uid === member.uid)) return conv
      const next = { ...conv, members: [...conv.members, member] }
      await atomically(this.root, [
        { type: 'put', sublevel: this.db.conversations, key: cid, value: next },
        { type: 'put', sublevel: this.db.memberOf, key: `${member.uid}!${cid}`, value: '' }
      ])
      return next
    })
  }

  async removeMember (cid: string, uid: string): Promise<Conversation> {
    return await this.#change(cid, async (conv) => {
      const next = { ...conv, members: conv.members.filter((m) => m.uid !== uid) }
      await atomically(this.root, [
        { type: 'put', sublevel: this.db.conversations, key: cid, value: next },
        { type: 'del', sublevel: this.db.memberOf, key: `${uid}!${cid}` }
      ])
      return next
    })
  }

  async markRead (cid: string, uid: string, seq: number): Promise<number> {
    let position = 0
    await this.#change(cid, async (conv) => {
      const member = conv.members.find((m) => m.uid === uid)
      if (!member) throw new ImError('IM_ERR_NOT_MEMBER')
      position = Math.max(member.readSeq, Math.min(seq, conv.lastSeq))
      if (position === member.readSeq) return conv
      const next = { ...conv, members: conv.members.map((m) => m.uid === uid ? { ...m, readSeq: position } : m) }
      await this.db.conversations.put(cid, next)
      return next
    })
    return position
  }

  async update (cid: string, change: (conv: Conversation) => Conversation): Promise<Conversation> {
    return await this.#change(cid, async (conv) => {
      const next = change(conv)
      const before = new Set(conv.members.map((m) => m.uid))
      const after = new Set(next.members.map((m) => m.uid))
      await atomically(this.root, [
        { type: 'put', sublevel: this.db.conversations, key: cid, value: next },
        ...[...after].filter((uid) => !before.has(uid)).map((uid) => ({ type: 'put' as const, sublevel: this.db.memberOf, key: `${uid}!${cid}`, value: '' })),
        ...[...before].filter((uid) => !after.has(uid)).map((uid) => ({ type: 'del' as const, sublevel: this.db.memberOf, key: `${uid}!${cid}` }))
      ])
      return next
    })
  }

  async #change (cid: string, change: (conv: Conversation) => Promise<Conversation>): Promise<Conversation> {
    return await this.lock.run(cid, async () => {
      const conv = await this.db.conversations.get(cid)
      if (!conv) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
      return await change(conv)
    })
  }
}

class LevelMessageStore implements MessageStore {
  constructor (readonly root: RootDb, readonly db: Sublevels, readonly lock: KeyedLock) {}

  async append (draft: NewMessage): Promise<AppendResult> {
    const cmidKey = `${draft.from}!${draft.cid}!${draft.cmid}`
    return await this.lock.run(draft.cid, async () => {
      const seen = await this.db.cmids.get(cmidKey)
      if (seen !== undefined) {
        const original = await this.db.messages.get(`${draft.cid}!${pad(Number(seen))}`)
        if (original) return { message: original, created: false }
      }
      const conv = await this.db.conversations.get(draft.cid)
      if (!conv) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
      const seq = conv.lastSeq + 1
      const message: Message = { ...draft, seq }
      // Sending reads the conversation up to one's own message. [IM-READ-2]
      const members = conv.members.map((m) => m.uid === draft.from ? { ...m, readSeq: seq } : m)
      await atomically(this.root, [
        { type: 'put', sublevel: this.db.messages, key: `${draft.cid}!${pad(seq)}`, value: message },
        { type: 'put', sublevel: this.db.messageIds, key: `${draft.cid}!${draft.id}`, value: String(seq) },
        { type: 'put', sublevel: this.db.cmids, key: cmidKey, value: String(seq) },
        { type: 'put', sublevel: this.db.conversations, key: draft.cid, value: { ...conv, lastSeq: seq, members } }
      ])
      return { message, created: true }
    })
  }

  async get (cid: string, id: string): Promise<Message | undefined> {
    const seq = await this.db.messageIds.get(`${cid}!${id}`)
    return seq === undefined ? undefined : await this.db.messages.get(`${cid}!${pad(Number(seq))}`)
  }

  async after (cid: string, after: number, limit: number): Promise<Message[]> {
    return await this.db.messages.values({ gt: `${cid}!${pad(after)}`, lt: `${cid}"`, limit }).all()
  }

  async before (cid: string, before: number, limit: number): Promise<Message[]> {
    const newestFirst = await this.db.messages.values({ gt: `${cid}!`, lt: `${cid}!${pad(before)}`, limit, reverse: true }).all()
    return newestFirst.reverse()
  }

  async last (cid: string): Promise<Message | undefined> {
    const [message] = await this.db.messages.values({ ...under(cid), limit: 1, reverse: true }).all()
    return message
  }

  async update (message: Message): Promise<void> {
    await this.lock.run(message.cid, async () => {
      await this.db.messages.put(`${message.cid}!${pad(message.seq)}`, message)
    })
  }
}
