/**
 * The current state of each conversation, as the embedded store holds it: the record merged with
 * its counter (`conv-seq`) and its members' read positions (`read`), which move on every message
 * without rewriting the record. Kept in an LRU cache that every write updates (written through,
 * under the conversation's lock), so the hot path — membership and the next seq of a `send` —
 * reads memory. After a restart the store is the truth again: a miss loads and merges. [IM-PERF-2]
 *
 * A state whose writes are still on their way to disk (a message appended, not yet written) is
 * held outside the LRU until they land: evicted, it would be loaded back from the older disk
 * state and hand out a seq twice. When a batch fails, everything cached is forgotten.
 *
 * A closed support chat is not kept: nothing is sent in it any more, it is read rarely (a rating,
 * the history), and every visitor leaves one behind — cached, they filled the LRU with the last
 * chats of visitors long gone (half a dozen objects each), and the heap grew with every visitor
 * until the cache was full. Memory follows the conversations in use.
 */
import { LRUCache } from 'lru-cache'
import type { Conversation } from '../../../shared/protocol.js'
import type { Sublevels } from './im-stores.js'

const CACHED_CONVERSATIONS = 20_000

export class ConversationState {
  readonly #db: Sublevels
  readonly #cache: LRUCache<string, Conversation>
  readonly #inFlight = new Map<string, { conversation: Conversation, writes: number }>()

  constructor (db: Sublevels, cached = CACHED_CONVERSATIONS) {
    this.#db = db
    this.#cache = new LRUCache({ max: cached })
  }

  /** The conversation as it is now; call under the conversation's lock when about to change it. */
  async get (cid: string): Promise<Conversation | undefined> {
    const cached = this.#inFlight.get(cid)?.conversation ?? this.#cache.get(cid)
    if (cached) return cached
    const loaded = await this.#load(cid)
    if (loaded) this.#keep(loaded)
    return loaded
  }

  /** Conversations held in memory (the LRU and those whose writes are on their way). */
  get size (): number {
    let pinnedOnly = 0
    for (const cid of this.#inFlight.keys()) if (!this.#cache.has(cid)) pinnedOnly++
    return this.#cache.size + pinnedOnly
  }

  /** The new state after a write that succeeded. */
  set (conversation: Conversation): void {
    this.#keep(conversation)
    const pinned = this.#inFlight.get(conversation.cid)
    if (pinned) pinned.conversation = conversation
  }

  /** The new state after a write asked for, still on its way (`written` settles when it lands). */
  setAhead (conversation: Conversation, written: Promise<void>): void {
    let entry = this.#inFlight.get(conversation.cid)
    if (entry) {
      entry.conversation = conversation
      entry.writes++
    } else {
      this.#inFlight.set(conversation.cid, entry = { conversation, writes: 1 })
    }
    this.#keep(conversation)
    const pinned = entry
    const landed = (): void => {
      if (--pinned.writes === 0 && this.#inFlight.get(conversation.cid) === pinned) this.#inFlight.delete(conversation.cid)
    }
    written.then(landed, landed)
  }

  /** After a failed write: the store is the truth again. */
  forgetAll (): void {
    this.#cache.clear()
    this.#inFlight.clear()
  }

  /** Caches the state, unless it is a closed support chat (see above): that one leaves the cache. */
  #keep (conversation: Conversation): void {
    if (conversation.support?.state === 'closed') this.#cache.delete(conversation.cid)
    else this.#cache.set(conversation.cid, conversation)
  }

  async #load (cid: string): Promise<Conversation | undefined> {
    const record = await this.#db.conversations.get(cid)
    if (!record) return undefined
    const [seq, reads] = await Promise.all([
      this.#db.convSeq.get(cid),
      this.#db.read.iterator({ gt: `${cid}!`, lt: `${cid}"` }).all()
    ])
    const readSeqs = new Map(reads.map(([key, value]) => [key.slice(cid.length + 1), Number(value)]))
    // Both only ever grow, so the larger of the record's and the key's value is the current one.
    return {
      ...record,
      lastSeq: Math.max(record.lastSeq, seq === undefined ? 0 : Number(seq)),
      members: record.members.map((m) => ({ ...m, readSeq: Math.max(m.readSeq, readSeqs.get(m.uid) ?? 0) }))
    }
  }
}
