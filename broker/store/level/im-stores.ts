/**
 * Conversations and messages in the embedded store. Keys are chosen so every query is a key range:
 *
 *   conversations  {cid}                  → Conversation (members with read positions, lastSeq)
 *   member-of      {uid}!{cid}            → ''            (a principal's conversations)
 *   pending        {uid}!{cid}            → ''            (groups it was added to and has not accepted)
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
    pending: root.sublevel<string, string>('pending', { valueEncoding: 'utf8' }),
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
        ...this.#indexOps(conversation.cid, [], conversation.members)
      ])
      return true
    })
  }

  async get (cid: string): Promise<Conversation | undefined> {
    return await this.db.conversations.get(cid)
  }

  async cidsOf (uid: string, page: { after?: string, limit?: number } = {}): Promise<string[]> {
    const range = page.after === undefined ? under(uid) : { gt: `${uid}!${page.after}`, lt: `${uid}"` }
    const keys = await this.db.memberOf.keys({ ...range, ...(page.limit === undefined ? {} : { limit: page.limit }) }).all()
    return keys.map((k) => k.slice(uid.length + 1))
  }

  async pendingCount (uid: string): Promise<number> {
    return (await this.db.pending.keys(under(uid)).all()).length
  }

  async addMember (cid: string, member: Member): Promise<Conversation> {
    return await this.#change(cid, async (conv) => {
      if (conv.members.some((m) => m.uid === member.uid)) return conv
      const next = { ...conv, members: [...conv.members, member] }
      await atomically(this.root, [
        { type: 'put', sublevel: this.db.conversations, key: cid, value: next },
        ...this.#indexOps(cid, [], [member])
      ])
      return next
    })
  }

  async removeMember (cid: string, uid: string): Promise<Conversation> {
    return await this.#change(cid, async (conv) => {
      const next = { ...conv, members: conv.members.filter((m) => m.uid !== uid) }
      await atomically(this.root, [
        { type: 'put', sublevel: this.db.conversations, key: cid, value: next },
        ...this.#indexOps(cid, conv.members, next.members)
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
      await atomically(this.root, [
        { type: 'put', sublevel: this.db.conversations, key: cid, value: next },
        ...this.#indexOps(cid, conv.members, next.members)
      ])
      return next
    })
  }

  /** The member-of and pending index entries that turn `before` into `after`. */
  #indexOps (cid: string, before: readonly Member[], after: readonly Member[]): Array<{ type: 'put' | 'del', sublevel: unknown, key: string, value?: string }> {
    const was = new Map(before.map((m) => [m.uid, m]))
    const now = new Map(after.map((m) => [m.uid, m]))
    const ops: Array<{ type: 'put' | 'del', sublevel: unknown, key: string, value?: string }> = []
    for (const [uid, m] of now) {
      const old = was.get(uid)
      if (!old) ops.push({ type: 'put', sublevel: this.db.memberOf, key: `${uid}!${cid}`, value: '' })
      if (m.pending === true && old?.pending !== true) ops.push({ type: 'put', sublevel: this.db.pending, key: `${uid}!${cid}`, value: '' })
      if (m.pending !== true && old?.pending === true) ops.push({ type: 'del', sublevel: this.db.pending, key: `${uid}!${cid}` })
    }
    for (const [uid, old] of was) {
      if (now.has(uid)) continue
      ops.push({ type: 'del', sublevel: this.db.memberOf, key: `${uid}!${cid}` })
      if (old.pending === true) ops.push({ type: 'del', sublevel: this.db.pending, key: `${uid}!${cid}` })
    }
    return ops
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
