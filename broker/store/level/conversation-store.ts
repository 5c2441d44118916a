/** `ConversationStore` on the embedded LevelDB; the key layout is in im-stores.ts. */
import { ImError } from '../../../shared/errors.js'
import type { Conversation, Member } from '../../../shared/protocol.js'
import type { KeyedLock } from '../../lib/keyed-lock.js'
import type { ConversationStore, Invitation } from '../ports.js'
import type { ConversationState } from './conversation-state.js'
import { under, type Sublevels } from './im-stores.js'
import type { BatchOp, WriteBatch } from './write-batch.js'

export interface ImStoreParts { db: Sublevels, lock: KeyedLock, batch: WriteBatch, state: ConversationState }

export class LevelConversationStore implements ConversationStore {
  readonly #db: Sublevels
  readonly #lock: KeyedLock
  readonly #batch: WriteBatch
  readonly #state: ConversationState

  constructor ({ db, lock, batch, state }: ImStoreParts) {
    this.#db = db
    this.#lock = lock
    this.#batch = batch
    this.#state = state
  }

  async create (conversation: Conversation): Promise<boolean> {
    return await this.#lock.run(conversation.cid, async () => {
      if (await this.#state.get(conversation.cid) !== undefined) return false
      await this.#batch.write([
        { type: 'put', sublevel: this.#db.conversations, key: conversation.cid, value: conversation },
        ...this.#indexOps(conversation.cid, [], conversation.members)
      ])
      this.#state.set(conversation)
      return true
    })
  }

  async get (cid: string): Promise<Conversation | undefined> {
    return await this.#state.get(cid)
  }

  async cidsOf (uid: string, page: { after?: string, limit?: number } = {}): Promise<string[]> {
    const range = page.after === undefined ? under(uid) : { gt: `${uid}!${page.after}`, lt: `${uid}"` }
    const keys = await this.#db.memberOf.keys({ ...range, ...(page.limit === undefined ? {} : { limit: page.limit }) }).all()
    return keys.map((k) => k.slice(uid.length + 1))
  }

  async invitationsOf (uid: string): Promise<Invitation[]> {
    const entries = await this.#db.pending.iterator(under(uid)).all()
    return entries.map(([key, value]) => ({ cid: key.slice(uid.length + 1), ...parseInvitation(value) }))
  }

  async addMember (cid: string, member: Member): Promise<Conversation> {
    return await this.#change(cid, (conv) => conv.members.some((m) => m.uid === member.uid) ? conv : { ...conv, members: [...conv.members, member] })
  }

  async removeMember (cid: string, uid: string): Promise<Conversation> {
    return await this.#change(cid, (conv) => ({ ...conv, members: conv.members.filter((m) => m.uid !== uid) }))
  }

  async markRead (cid: string, uid: string, seq: number): Promise<number> {
    return await this.#lock.run(cid, async () => {
      const conv = await this.#require(cid)
      const member = conv.members.find((m) => m.uid === uid)
      if (!member) throw new ImError('IM_ERR_NOT_MEMBER')
      const position = Math.max(member.readSeq, Math.min(seq, conv.lastSeq))
      if (position === member.readSeq) return position
      await this.#batch.write([{ type: 'put', sublevel: this.#db.read, key: `${cid}!${uid}`, value: String(position) }])
      this.#state.set({ ...conv, members: conv.members.map((m) => m.uid === uid ? { ...m, readSeq: position } : m) })
      return position
    })
  }

  async update (cid: string, change: (conv: Conversation) => Conversation): Promise<Conversation> {
    return await this.#change(cid, change)
  }

  /** Rewrites the record (with the current seq and read positions) and the indexes it implies. */
  async #change (cid: string, change: (conv: Conversation) => Conversation): Promise<Conversation> {
    return await this.#lock.run(cid, async () => {
      const conv = await this.#require(cid)
      const next = change(conv)
      if (next === conv) return conv
      await this.#batch.write([
        { type: 'put', sublevel: this.#db.conversations, key: cid, value: next },
        ...this.#indexOps(cid, conv.members, next.members)
      ])
      this.#state.set(next)
      return next
    })
  }

  async #require (cid: string): Promise<Conversation> {
    const conv = await this.#state.get(cid)
    if (!conv) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
    return conv
  }

  /**
   * The member-of, pending and read-position entries that turn `before` into `after`. A `held`
   * member has none: to its uid the conversation does not exist.
   */
  #indexOps (cid: string, before: readonly Member[], after: readonly Member[]): BatchOp[] {
    const was = new Map(before.map((m) => [m.uid, m]))
    const now = new Map(after.map((m) => [m.uid, m]))
    const ops: BatchOp[] = []
    for (const [uid, m] of now) {
      const old = was.get(uid)
      if (indexed(m) && !indexed(old)) ops.push({ type: 'put', sublevel: this.#db.memberOf, key: `${uid}!${cid}`, value: '' })
      if (!indexed(m) && indexed(old)) {
        ops.push({ type: 'del', sublevel: this.#db.memberOf, key: `${uid}!${cid}` })
        ops.push({ type: 'del', sublevel: this.#db.read, key: `${cid}!${uid}` })
      }
      if (invited(m) && !invited(old)) ops.push({ type: 'put', sublevel: this.#db.pending, key: `${uid}!${cid}`, value: JSON.stringify({ by: m.invitedBy, at: m.joinedAt }) })
      if (!invited(m) && invited(old)) ops.push({ type: 'del', sublevel: this.#db.pending, key: `${uid}!${cid}` })
    }
    for (const [uid, old] of was) {
      if (now.has(uid)) continue
      if (indexed(old)) ops.push({ type: 'del', sublevel: this.#db.memberOf, key: `${uid}!${cid}` })
      ops.push({ type: 'del', sublevel: this.#db.read, key: `${cid}!${uid}` })
      if (invited(old)) ops.push({ type: 'del', sublevel: this.#db.pending, key: `${uid}!${cid}` })
    }
    return ops
  }
}

/** A member its uid sees the conversation of (every member but a `held` invitee). */
function indexed (m: Member | undefined): boolean {
  return m !== undefined && m.held !== true
}

/** An invitation its invitee has and has not accepted. */
function invited (m: Member | undefined): boolean {
  return indexed(m) && m?.pending === true
}

/** A `pending` entry's value: `{by, at}`; '' from a version that recorded neither. */
function parseInvitation (value: string): Omit<Invitation, 'cid'> {
  if (value === '') return { at: 0 }
  const { by, at } = JSON.parse(value) as { by?: string, at?: number }
  return { ...(by === undefined ? {} : { by }), at: at ?? 0 }
}
