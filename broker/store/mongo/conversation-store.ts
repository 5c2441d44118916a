/** `ConversationStore` on MongoDB; the document layout and why it is safe are in im-stores.ts. */
import type { Collection, UpdateFilter } from 'mongodb'
import { ImError } from '../../../shared/errors.js'
import type { Conversation, Member } from '../../../shared/protocol.js'
import type { KeyedLock } from '../../lib/keyed-lock.js'
import type { ConversationStore, Invitation } from '../ports.js'
import { isDuplicateKey } from './connect.js'
import { highestSeq, readKey, readPath, withoutUndefined, type ConversationDoc, type MessageDoc, type MongoImParts } from './im-stores.js'

/** Fields of the document that are not the conversation's own. */
const INTERNAL = new Set(['_id', '_v', '_uids', '_pending', '_invites', '_reads'])

export class MongoConversationStore implements ConversationStore {
  readonly #conversations: Collection<ConversationDoc>
  readonly #messages: Collection<MessageDoc>
  readonly #lock: KeyedLock

  constructor ({ conversations, messages, lock }: MongoImParts) {
    this.#conversations = conversations
    this.#messages = messages
    this.#lock = lock
  }

  /** One insert: the unique _id lets exactly one of racing creates win, on every broker. */
  async create (conversation: Conversation): Promise<boolean> {
    const record = withoutUndefined(conversation)
    try {
      await this.#conversations.insertOne({ ...record, _id: record.cid, _v: 0, ...indexFields(record.members) })
      return true
    } catch (err) {
      if (isDuplicateKey(err)) return false
      throw err
    }
  }

  async get (cid: string): Promise<Conversation | undefined> {
    return (await this.#load(cid))?.conversation
  }

  async cidsOf (uid: string, page: { after?: string, limit?: number } = {}): Promise<string[]> {
    if (page.limit === 0) return [] // MongoDB reads limit 0 as "no limit"
    const filter = page.after === undefined ? { _uids: uid } : { _uids: uid, _id: { $gt: page.after } }
    const cursor = this.#conversations.find(filter, { projection: { _id: 1 } }).sort({ _id: 1 })
    if (page.limit !== undefined) cursor.limit(page.limit)
    return (await cursor.toArray()).map((doc) => doc._id)
  }

  /** One indexed query; of each document only the invitee's own `_invites` entry comes back. */
  async invitationsOf (uid: string): Promise<Invitation[]> {
    const key = readKey(uid)
    const docs = await this.#conversations.find({ _pending: uid }, { projection: { [`_invites.${key}`]: 1 } }).toArray()
    return docs.map((doc) => {
      const invite = doc._invites?.[key]
      return { cid: doc._id, ...(invite?.by === undefined ? {} : { by: invite.by }), at: invite?.at ?? 0 }
    })
  }

  async addMember (cid: string, member: Member): Promise<Conversation> {
    return await this.update(cid, (conv) => conv.members.some((m) => m.uid === member.uid) ? conv : { ...conv, members: [...conv.members, member] })
  }

  async removeMember (cid: string, uid: string): Promise<Conversation> {
    return await this.update(cid, (conv) => ({ ...conv, members: conv.members.filter((m) => m.uid !== uid) }))
  }

  /**
   * `$max` on the member's `_reads` entry, only while they are a member (the filter checks it in
   * the same single-document update): a racing read elsewhere can only move it further.
   */
  async markRead (cid: string, uid: string, seq: number): Promise<number> {
    return await this.#lock.run(cid, async () => {
      const loaded = await this.#load(cid)
      if (!loaded) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
      const member = loaded.conversation.members.find((m) => m.uid === uid)
      if (!member) throw new ImError('IM_ERR_NOT_MEMBER')
      const position = Math.max(member.readSeq, Math.min(seq, loaded.conversation.lastSeq))
      if (position === member.readSeq) return position
      const path = readPath(uid)
      const after = await this.#conversations.findOneAndUpdate(
        { _id: cid, _uids: uid },
        { $max: { [path]: position } } as UpdateFilter<ConversationDoc>,
        { returnDocument: 'after' }
      )
      // left the conversation since it was read (on another broker)
      if (!after) throw new ImError('IM_ERR_NOT_MEMBER')
      return Math.max(position, after._reads?.[readKey(uid)] ?? 0)
    })
  }

  /**
   * Compare-and-set on `_v`: the record is rewritten only if nobody changed it since it was read,
   * else `change` runs again on the newer state (so it must not have side effects). `lastSeq` and
   * the read positions are left to their `$max` writers, never set back.
   */
  async update (cid: string, change: (conv: Conversation) => Conversation): Promise<Conversation> {
    return await this.#lock.run(cid, async () => {
      for (;;) {
        const loaded = await this.#load(cid)
        if (!loaded) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
        const { doc, conversation } = loaded
        const next = change(conversation)
        if (next === conversation) return conversation
        const record = withoutUndefined(next)
        const written = await this.#conversations.updateOne({ _id: cid, _v: doc._v }, rewrite(doc, conversation, record))
        if (written.matchedCount === 1) return record
      }
    })
  }

  /** The document and the conversation it holds: read positions merged, `lastSeq` as stored. */
  async #load (cid: string): Promise<{ doc: ConversationDoc, conversation: Conversation } | undefined> {
    const [doc, highest] = await Promise.all([this.#conversations.findOne({ _id: cid }), highestSeq(this.#messages, cid)])
    return doc ? { doc, conversation: toConversation(doc, highest) } : undefined
  }
}

/**
 * The uids the member indexes list, written with every change of `members`, and who invited the
 * pending ones when. A `held` member is in neither: to its uid the conversation does not exist.
 */
function indexFields (members: readonly Member[]): Pick<ConversationDoc, '_uids' | '_pending' | '_invites'> {
  const indexed = members.filter((m) => m.held !== true)
  const invited = indexed.filter((m) => m.pending === true)
  return {
    _uids: indexed.map((m) => m.uid),
    _pending: invited.map((m) => m.uid),
    _invites: Object.fromEntries(invited.map((m) => [readKey(m.uid), { ...(m.invitedBy === undefined ? {} : { by: m.invitedBy }), at: m.joinedAt }]))
  }
}

function toConversation (doc: ConversationDoc, highest: number): Conversation {
  const { _id, _v, _uids, _pending, _invites, _reads, ...conversation } = doc
  const reads = _reads ?? {}
  return {
    ...conversation,
    // both only grow, so the larger value is the current one
    lastSeq: Math.max(conversation.lastSeq, highest),
    members: conversation.members.map((m) => {
      const read = reads[readKey(m.uid)]
      return read !== undefined && read > m.readSeq ? { ...m, readSeq: read } : m
    })
  }
}

/** The update that turns `doc` (read as `before`) into `after`, leaving the `$max` fields alone. */
function rewrite (doc: ConversationDoc, before: Conversation, after: Conversation): UpdateFilter<ConversationDoc> {
  const { cid: _cid, lastSeq, ...fields } = after
  const $unset: Record<string, ''> = {}
  // a property the change dropped (a title, support info) goes from the document too
  for (const key of Object.keys(doc)) {
    if (!INTERNAL.has(key) && key !== 'cid' && key !== 'lastSeq' && !Object.hasOwn(fields, key)) $unset[key] = ''
  }
  // Who leaves loses their read position (as the embedded store deletes it); who comes (back)
  // starts from the one in their new member entry.
  const was = new Set(before.members.map((m) => m.uid))
  const now = new Set(after.members.map((m) => m.uid))
  for (const uid of was) if (!now.has(uid)) $unset[readPath(uid)] = ''
  for (const uid of now) if (!was.has(uid)) $unset[readPath(uid)] = ''
  return {
    $set: { ...fields, _v: doc._v + 1, ...indexFields(after.members) },
    $max: { lastSeq },
    ...(Object.keys($unset).length === 0 ? {} : { $unset })
  } as UpdateFilter<ConversationDoc>
}
