/** `MessageStore` on MongoDB; the document layout and why it is safe are in im-stores.ts. [IM-SEQ-1] [IM-IDEM-1] */
import { LRUCache } from 'lru-cache'
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type UpdateFilter } from 'mongodb'
import { ImError } from '../../../shared/errors.js'
import type { Message } from '../../../shared/protocol.js'
import type { KeyedLock } from '../../lib/keyed-lock.js'
import type { AppendResult, MessageStore, NewMessage } from '../ports.js'
import { highestSeq, readPath, toMessage, toMessageDoc, withoutUndefined, type ConversationDoc, type MessageDoc, type MongoImParts } from './im-stores.js'

const CACHED_CONVERSATIONS = 20_000
const DUPLICATE_KEY = 11000

interface Caller { resolve (result: AppendResult): void, reject (error: unknown): void }

/** One (from, cmid) of a batch, and every call that asked for it: a retry racing the first send. */
interface Send { draft: NewMessage, callers: Caller[] }

type Outcome = { result: AppendResult } | { error: unknown }

export class MongoMessageStore implements MessageStore {
  readonly #messages: Collection<MessageDoc>
  readonly #conversations: Collection<ConversationDoc>
  readonly #lock: KeyedLock
  /**
   * The newest seq this broker stored or read per conversation: the next insert's guess, never
   * the truth (another broker may have gone further; the unique index then says so). Only a
   * conversation that exists is in it, and conversations are never deleted.
   */
  readonly #lastSeqs = new LRUCache<string, number>({ max: CACHED_CONVERSATIONS })
  /** appends waiting for their conversation's next batch, in call order */
  readonly #queued = new Map<string, Array<{ draft: NewMessage, caller: Caller }>>()

  constructor ({ messages, conversations, lock }: MongoImParts) {
    this.#messages = messages
    this.#conversations = conversations
    this.#lock = lock
  }

  /**
   * Appends to one conversation are stored in batches, one at a time (under its lock): what was
   * asked for while a batch was being written makes the next one — one insert of many messages
   * with consecutive seqs instead of a round trip each, and seqs in call order. [IM-PERF-1]
   */
  async append (draft: NewMessage): Promise<AppendResult> {
    return await new Promise<AppendResult>((resolve, reject) => {
      const queue = this.#queued.get(draft.cid)
      if (queue) {
        queue.push({ draft, caller: { resolve, reject } })
        return
      }
      this.#queued.set(draft.cid, [{ draft, caller: { resolve, reject } }])
      void this.#lock.run(draft.cid, async () => { await this.#commit(draft.cid) })
    })
  }

  /** Stores what is queued for `cid` and settles every call; never rejects. */
  async #commit (cid: string): Promise<void> {
    const sends = bySender(this.#queued.get(cid) ?? [])
    this.#queued.delete(cid)
    const outcomes = new Map<Send, Outcome>()
    try {
      await this.#insert(cid, sends, outcomes)
    } catch (error) {
      // what is stored now is unknown: read the truth next time
      this.#lastSeqs.delete(cid)
      for (const send of sends) if (!outcomes.has(send)) outcomes.set(send, { error })
    }
    try {
      await this.#advance(cid, [...outcomes.values()].flatMap((o) => 'result' in o ? [o.result.message] : []))
    } catch (error) {
      // The messages are stored, but lastSeq and read positions did not follow: the caller fails,
      // and its retry (same cmid) returns the message and moves them.
      for (const send of sends) outcomes.set(send, { error })
    }
    for (const send of sends) settle(send, outcomes.get(send) ?? { error: new Error('append not settled') })
  }

  /**
   * Inserts the sends in order at `last + 1`, `last + 2`… (ordered: the insert stops at the first
   * refusal, so what is stored is a prefix, without a gap). A refusal is the sender's cmid (stored
   * before: the original is the answer) or the seq (another broker took it: read the newest seq
   * and go on from there).
   */
  async #insert (cid: string, sends: Send[], outcomes: Map<Send, Outcome>): Promise<void> {
    let last = this.#lastSeqs.get(cid) ?? await this.#storedLast(cid)
    let todo = sends
    while (todo.length > 0) {
      const batch = todo.map((send, i) => withoutUndefined({ ...send.draft, seq: last + 1 + i }))
      const inserted = await this.#insertOrdered(batch)
      for (const [i, message] of batch.slice(0, inserted).entries()) outcomes.set(todo[i]!, { result: { message, created: true } })
      last += inserted
      this.#lastSeqs.set(cid, last)
      const refused = todo[inserted]
      if (refused === undefined) return
      todo = todo.slice(inserted + 1)
      const { from, cmid } = refused.draft
      const original = await this.#messages.findOne({ cid, from, cmid })
      if (original) {
        outcomes.set(refused, { result: { message: toMessage(original), created: false } })
        continue
      }
      const newest = await this.#storedLast(cid)
      if (newest > last) {
        last = newest
        this.#lastSeqs.set(cid, last)
        todo = [refused, ...todo]
        continue
      }
      // neither the cmid nor the seq: the server id is taken (a broker bug, not a race)
      outcomes.set(refused, { error: new Error(`message id ${refused.draft.id} is already stored`) })
    }
  }

  /** How many of `batch` were stored (all, or those before the first duplicate key). */
  async #insertOrdered (batch: Message[]): Promise<number> {
    try {
      await this.#messages.insertMany(batch.map(toMessageDoc), { ordered: true })
      return batch.length
    } catch (error) {
      const [first] = error instanceof MongoBulkWriteError ? [error.writeErrors].flat() : []
      if (first?.code !== DUPLICATE_KEY) throw error
      return first.index
    }
  }

  /** The conversation's newest seq as stored; IM_ERR_NOT_FOUND when it does not exist. */
  async #storedLast (cid: string): Promise<number> {
    const [doc, highest] = await Promise.all([
      this.#conversations.findOne({ _id: cid }, { projection: { _id: 1, lastSeq: 1 } }),
      highestSeq(this.#messages, cid)
    ])
    if (!doc) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
    return Math.max(doc.lastSeq, highest)
  }

  /**
   * The record's `lastSeq` and each sender's read position follow the stored messages ($max: a
   * later one may already be there). The read position moves only while the sender is a member:
   * the filter checks it in the same single-document update. Sending reads the conversation up to
   * one's own message. [IM-READ-2]
   */
  async #advance (cid: string, messages: Message[]): Promise<void> {
    if (messages.length === 0) return
    const newest = new Map<string, number>()
    for (const m of messages) newest.set(m.from, Math.max(newest.get(m.from) ?? 0, m.seq))
    const operations: Array<AnyBulkWriteOperation<ConversationDoc>> = [
      { updateOne: { filter: { _id: cid }, update: { $max: { lastSeq: Math.max(...newest.values()) } } } },
      ...[...newest].map(([uid, seq]) => ({
        updateOne: { filter: { _id: cid, _uids: uid }, update: { $max: { [readPath(uid)]: seq } } as UpdateFilter<ConversationDoc> }
      }))
    ]
    await this.#conversations.bulkWrite(operations, { ordered: true })
  }

  async get (cid: string, id: string): Promise<Message | undefined> {
    // by _id alone (FerretDB pushes only that down to SQLite), then the conversation is checked
    const doc = await this.#messages.findOne({ _id: id })
    return doc?.cid === cid ? toMessage(doc) : undefined
  }

  async after (cid: string, after: number, limit: number): Promise<Message[]> {
    if (limit <= 0) return [] // MongoDB reads limit 0 as "no limit"
    const docs = await this.#messages.find({ cid, seq: { $gt: after } }).sort({ seq: 1 }).limit(limit).toArray()
    return docs.map(toMessage)
  }

  async before (cid: string, before: number, limit: number): Promise<Message[]> {
    if (limit <= 0) return []
    const docs = await this.#messages.find({ cid, seq: { $lt: before } }).sort({ seq: -1 }).limit(limit).toArray()
    return docs.reverse().map(toMessage)
  }

  async last (cid: string): Promise<Message | undefined> {
    const [doc] = await this.#messages.find({ cid }).sort({ seq: -1 }).limit(1).toArray()
    return doc ? toMessage(doc) : undefined
  }

  /** A whole-document replace; under the cid's lock so that this broker's updates land in call order. */
  async update (message: Message): Promise<void> {
    const { _id, ...fields } = toMessageDoc(message)
    await this.#lock.run(message.cid, async () => {
      await this.#messages.replaceOne({ _id, cid: message.cid }, fields)
    })
  }
}

/** Groups the calls by sender and cmid, in the order of each one's first call. */
function bySender (queued: Array<{ draft: NewMessage, caller: Caller }>): Send[] {
  const sends = new Map<string, Send>()
  for (const { draft, caller } of queued) {
    const key = JSON.stringify([draft.from, draft.cmid])
    const send = sends.get(key)
    if (send) send.callers.push(caller)
    else sends.set(key, { draft, callers: [caller] })
  }
  return [...sends.values()]
}

/** The first call gets the outcome; the calls that raced it get the same message, as a retry. */
function settle (send: Send, outcome: Outcome): void {
  for (const [i, caller] of send.callers.entries()) {
    if ('error' in outcome) caller.reject(outcome.error)
    else caller.resolve(i === 0 ? outcome.result : { message: outcome.result.message, created: false })
  }
}
