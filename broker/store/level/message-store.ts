/** `MessageStore` on the embedded LevelDB; the key layout is in im-stores.ts. [IM-SEQ-1] [IM-IDEM-1] */
import { ImError } from '../../../shared/errors.js'
import type { Message } from '../../../shared/protocol.js'
import type { KeyedLock } from '../../lib/keyed-lock.js'
import type { AppendResult, MessageStore, NewMessage } from '../ports.js'
import type { ConversationState } from './conversation-state.js'
import type { ImStoreParts } from './conversation-store.js'
import { pad, under, type Sublevels } from './im-stores.js'
import { KeyFilter } from './key-filter.js'
import type { WriteBatch } from './write-batch.js'

export class LevelMessageStore implements MessageStore {
  readonly #db: Sublevels
  readonly #lock: KeyedLock
  readonly #batch: WriteBatch
  readonly #state: ConversationState

  constructor ({ db, lock, batch, state }: ImStoreParts) {
    this.#db = db
    this.#lock = lock
    this.#batch = batch
    this.#state = state
    // should the store close before the filter is loaded, it stays at "maybe": every cmid is read
    this.loaded = this.#known.load(db.cmids.keys()).catch(() => undefined)
  }

  /** Resolves once every stored cmid is in the filter (until then each cmid is read). */
  readonly loaded: Promise<void>
  readonly #known = new KeyFilter()
  /** cmids whose message is written but not yet on disk */
  readonly #writing = new Map<string, Promise<AppendResult>>()

  /**
   * The seq is taken and the writes asked for under the conversation's lock; the lock is let go
   * before they land, so the next message of the conversation goes into the same batch. Appends
   * started one after the other get their seqs in that order. [IM-PERF-1]
   */
  async append (draft: NewMessage): Promise<AppendResult> {
    const cmidKey = `${draft.from}!${draft.cid}!${draft.cmid}`
    const reserved = await this.#lock.run(draft.cid, async () => await this.#reserve(draft, cmidKey))
    if ('original' in reserved) return await reserved.original
    await reserved.written
    return { message: reserved.message, created: true }
  }

  async #reserve (draft: NewMessage, cmidKey: string): Promise<{ original: Promise<AppendResult> } | { message: Message, written: Promise<void> }> {
    // The same cmid again while the first is still being written: that one is the answer.
    const writing = this.#writing.get(cmidKey)
    if (writing) return { original: writing.then((r) => ({ ...r, created: false })) }
    // A cmid the filter has never seen is new: no read. [IM-IDEM-1]
    const seen = this.#known.mightHave(cmidKey) ? await this.#db.cmids.get(cmidKey) : undefined
    if (seen !== undefined) {
      const original = await this.#db.messages.get(`${draft.cid}!${pad(Number(seen))}`)
      if (original) return { original: Promise.resolve({ message: original, created: false }) }
    }
    let conv
    for (;;) {
      const epoch = this.#batch.epoch
      conv = await this.#state.get(draft.cid)
      if (epoch === this.#batch.epoch) break // else a batch failed meanwhile: read the truth again
    }
    if (!conv) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
    const seq = conv.lastSeq + 1
    const message: Message = { ...draft, seq }
    const sender = conv.members.some((m) => m.uid === draft.from)
    const written = this.#batch.write([
      { type: 'put', sublevel: this.#db.messages, key: `${draft.cid}!${pad(seq)}`, value: message },
      { type: 'put', sublevel: this.#db.messageIds, key: `${draft.cid}!${draft.id}`, value: String(seq) },
      { type: 'put', sublevel: this.#db.cmids, key: cmidKey, value: String(seq) },
      { type: 'put', sublevel: this.#db.convSeq, key: draft.cid, value: String(seq) },
      // Sending reads the conversation up to one's own message. [IM-READ-2]
      ...(sender ? [{ type: 'put' as const, sublevel: this.#db.read, key: `${draft.cid}!${draft.from}`, value: String(seq) }] : [])
    ])
    this.#state.setAhead({
      ...conv,
      lastSeq: seq,
      members: sender ? conv.members.map((m) => m.uid === draft.from ? { ...m, readSeq: seq } : m) : conv.members
    }, written)
    const result = written.then(() => ({ message, created: true }))
    this.#writing.set(cmidKey, result)
    const settled = (): void => { this.#writing.delete(cmidKey) }
    result.then(() => { this.#known.add(cmidKey); settled() }, settled)
    return { message, written }
  }

  async get (cid: string, id: string): Promise<Message | undefined> {
    const seq = await this.#db.messageIds.get(`${cid}!${id}`)
    return seq === undefined ? undefined : await this.#db.messages.get(`${cid}!${pad(Number(seq))}`)
  }

  async after (cid: string, after: number, limit: number): Promise<Message[]> {
    return await this.#db.messages.values({ gt: `${cid}!${pad(after)}`, lt: `${cid}"`, limit }).all()
  }

  async before (cid: string, before: number, limit: number): Promise<Message[]> {
    const newestFirst = await this.#db.messages.values({ gt: `${cid}!`, lt: `${cid}!${pad(before)}`, limit, reverse: true }).all()
    return newestFirst.reverse()
  }

  async last (cid: string): Promise<Message | undefined> {
    const [message] = await this.#db.messages.values({ ...under(cid), limit: 1, reverse: true }).all()
    return message
  }

  async update (message: Message): Promise<void> {
    await this.#lock.run(message.cid, async () => {
      await this.#batch.write([{ type: 'put', sublevel: this.#db.messages, key: `${message.cid}!${pad(message.seq)}`, value: message }])
    })
  }
}
