/**
 * Conversations and messages in MongoDB (CI runs them on FerretDB 1.24). Two collections:
 *
 *   conversations  { _id: cid, ...Conversation,        the record: members, title, support…
 *                    _v,                                 its version: bumped by every record change
 *                    _uids, _pending,                    member uids / uids with `pending` (none `held`), for the indexes
 *                    _invites: { uid: {by, at} },        who invited each pending member, when
 *                    _reads: { uid: seq } }              read positions moved since the record was written
 *                  index { _uids, _id }                  cidsOf: a uid's conversations in cid order (multikey)
 *                  index { _pending }                    invitationsOf
 *   messages       { _id: id, cid, seq, from, ts, type, body: JSON text, cmid, … }
 *                  unique { cid, seq }                   no seq twice; history by seq range
 *                  unique { cid, from, cmid }            a sender's cmid once per conversation [IM-IDEM-1]
 *
 * A seq is taken by inserting the message under the unique (cid, seq) index: the insert that wins
 * owns the seq, one that loses (11000, another broker was first) retries with a fresh `last`. A
 * message is thus stored with its seq in one single-document write, and seqs only exist for stored
 * messages: no gap and no duplicate, whatever brokers race or die. [IM-SEQ-1] The record's
 * `lastSeq` and the sender's `_reads` entry follow with `$max` (never the whole record, so a send
 * costs the same in a group of 500 as in a pair [IM-PERF-2]); since a broker may die between the
 * insert and that `$max`, readers take the larger of `lastSeq` and the highest stored seq. The
 * sends a broker has for one conversation at a time go in one ordered insertMany (message-store.ts).
 *
 * Read positions live apart from `members` (the record holds the position as of its last
 * rewrite; `_reads` the newer one, both only grow), so a record change never moves one back and a
 * read never conflicts with a record change. Member changes are compare-and-set on `_v`, and
 * `_uids`/`_pending` are written in the same document: the member indexes are always in step.
 *
 * Across brokers this relies on MongoDB's unique indexes and single-document atomicity (`$max`,
 * an update whose filter checks `_v` or membership). FerretDB enforces unique indexes on inserts
 * but applies an update as read-then-write-back, not atomically (test/infra/ferretdb.test.ts):
 * so inside one broker every write to a conversation's documents runs alone for its cid
 * (KeyedLock), which keeps FerretDB correct for one broker and lets appends keep call order. No
 * transactions, change streams or TTL indexes: FerretDB has none.
 */
import type { Collection, Db } from 'mongodb'
import type { Conversation, Message } from '../../../shared/protocol.js'
import { KeyedLock } from '../../lib/keyed-lock.js'
import type { ConversationStore, MessageStore } from '../ports.js'
import { MongoConversationStore } from './conversation-store.js'
import { MongoMessageStore } from './message-store.js'

export type ConversationDoc = Conversation & {
  _id: string
  _v: number
  _uids: string[]
  _pending: string[]
  /** by readKey(uid); absent in a document written before invitations recorded it */
  _invites?: Record<string, { by?: string, at: number }>
  _reads?: Record<string, number>
}

/**
 * A message's body is kept as JSON text: a custom body's `data` is any JSON, stored as given
 * (docs/protocol.md), and its keys may hold a '.' or start with '$', which FerretDB (and MongoDB
 * before 5.0) refuse in a document. As text it also comes back exactly as the embedded store's
 * JSON gives it.
 */
export type MessageDoc = Omit<Message, 'id' | 'body'> & { _id: string, body: string }

export interface MongoImParts {
  conversations: Collection<ConversationDoc>
  messages: Collection<MessageDoc>
  /** one per broker, shared by both stores: every write to one conversation runs alone */
  lock: KeyedLock
}

export async function openMongoImStores (db: Db): Promise<{ conversations: ConversationStore, messages: MessageStore }> {
  const parts: MongoImParts = {
    conversations: db.collection<ConversationDoc>('conversations'),
    messages: db.collection<MessageDoc>('messages'),
    lock: new KeyedLock()
  }
  // Before the first write: seq and cmid correctness rests on the unique indexes. One index per
  // command: FerretDB 1.24 panics (and drops the connection) when two brokers starting at once
  // both send a createIndexes that lists several indexes of one collection.
  await parts.conversations.createIndex({ _uids: 1, _id: 1 }, { name: 'by_member' })
  await parts.conversations.createIndex({ _pending: 1 }, { name: 'by_pending' })
  await parts.messages.createIndex({ cid: 1, seq: 1 }, { name: 'seq', unique: true })
  await parts.messages.createIndex({ cid: 1, from: 1, cmid: 1 }, { name: 'cmid', unique: true })
  return { conversations: new MongoConversationStore(parts), messages: new MongoMessageStore(parts) }
}

/** The highest seq stored for `cid` (0 when none): the truth a record's `lastSeq` may lag. */
export async function highestSeq (messages: Collection<MessageDoc>, cid: string): Promise<number> {
  const [newest] = await messages.find({ cid }, { projection: { _id: 0, seq: 1 } }).sort({ seq: -1 }).limit(1).toArray()
  return newest?.seq ?? 0
}

/**
 * `uid`'s key in `_reads`. uids are `[A-Za-z0-9_-]{1,64}` (shared/identity.ts) and are their own
 * key; should one ever hold a '.', '$' or '%', those are escaped, since a '.' would address a
 * nested field and a leading '$' an operator (and '' is no field name at all).
 */
export function readKey (uid: string): string {
  if (uid === '') return '%'
  return uid.replace(/[%.$]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

export function readPath (uid: string): `_reads.${string}` {
  return `_reads.${readKey(uid)}`
}

/**
 * `value` without the properties set to undefined, as the embedded store's JSON leaves them out:
 * the driver would store them as null (unless the client sets ignoreUndefined, which a `Db`
 * handed in need not), and they would come back as null instead of missing.
 */
export function withoutUndefined<T> (value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => withoutUndefined(item)) as T
  if (value === null || typeof value !== 'object') return value
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return value
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = withoutUndefined(item)
  return out as T
}

/**
 * The message as the broker built it, its properties in the same order (the body stays where it
 * was): a client may compare two copies of one message by their JSON text.
 */
export function toMessage (doc: MessageDoc): Message {
  const { _id, ...message } = doc
  return { id: _id, ...message, body: JSON.parse(message.body) as Message['body'] }
}

export function toMessageDoc (message: Message): MessageDoc {
  const { id, ...fields } = withoutUndefined(message)
  return { _id: id, ...fields, body: JSON.stringify(fields.body ?? null) }
}
