/**
 * The current state of each conversation, as the embedded store holds it: the record merged with
 * its counter (`conv-seq`) and its members' read positions (`read`), which move on every message
 * without rewriting the record. Kept in an LRU cache that every write updates (written through,
 * under the conversation's lock), so the hot path — membership and the next seq of a `send` —
 * reads memory. After a restart the store is the truth again: a miss loads and merges. [IM-PERF-2]
 */
import { LRUCache } from 'lru-cache'
import type { Conversation } from '../../../shared/protocol.js'
import type { Sublevels } from './im-stores.js'

const CACHED_CONVERSATIONS = 20_000

export class ConversationState {
  readonly #db: Sublevels
  readonly #cache = new LRUCache<string, Conversation>({ max: CACHED_CONVERSATIONS })

  constructor (db: Sublevels) {
    this.#db = db
  }

  /** The conversation as it is now; call under the conversation's lock when about to change it. */
  async get (cid: string): Promise<Conversation | undefined> {
    const cached = this.#cache.get(cid)
    if (cached) return cached
    const loaded = await this.#load(cid)
    if (loaded) this.#cache.set(cid, loaded)
    return loaded
  }

  /** The new state after a write that succeeded. */
  set (conversation: Conversation): void {
    this.#cache.set(conversation.cid, conversation)
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
