/**
 * The messages of the visitor's current chat, as the panel shows them: stored messages by seq
 * (each exactly once, whether it came live, from a sync or from history), then the visitor's own
 * sends not stored yet, oldest first. It knows who has read how far, so it gives every own message
 * its state — sending → sent (stored) → read, or failed — and the unread count. [IM-SEQ-1]
 */
import type { Message } from '../../shared/protocol.js'

export type ItemState = 'sending' | 'sent' | 'read' | 'failed'

/** An own send the server has not confirmed yet; kept in localStorage until it is. */
export interface PendingEntry {
  cmid: string
  text: string
  ts: number
  failed?: string
}

export interface ChatItem {
  /** stable key for rendering: the server id, or the cmid before that */
  key: string
  cmid?: string
  seq?: number
  mine: boolean
  from: string
  ts: number
  /** the text of a text message; undefined for recalled or non-text messages */
  text?: string
  recalled: boolean
  /** own messages only */
  state?: ItemState
  /** the error code of a failed send */
  error?: string
}

export class ChatLog {
  readonly me: string
  readonly #stored = new Map<number, Message>()
  readonly #pending = new Map<string, PendingEntry>()
  #myReadSeq = 0
  #peerReadSeq = 0

  constructor (me: string) {
    this.me = me
  }

  get maxSeq (): number {
    let max = 0
    for (const seq of this.#stored.keys()) if (seq > max) max = seq
    return max
  }

  /** The highest seq of a message from someone else (what reading everything means). */
  get lastIncomingSeq (): number {
    let max = 0
    for (const m of this.#stored.values()) if (m.from !== this.me && m.seq > max) max = m.seq
    return max
  }

  get myReadSeq (): number { return this.#myReadSeq }

  /** Adds or updates a stored message; true when it is new. Its pending send, if any, is done. */
  merge (message: Message): boolean {
    if (message.from === this.me) this.#pending.delete(message.cmid)
    const known = this.#stored.get(message.seq)
    // A recall or a newer edit seen already wins over an older copy arriving late.
    if (known && (known.recalledAt !== undefined || (known.editedAt ?? 0) > (message.editedAt ?? 0))) return false
    this.#stored.set(message.seq, message)
    // Sending moves the sender's read position to its message [IM-READ-2].
    this.read(message.from, message.seq)
    return !known
  }

  has (cmid: string): boolean {
    for (const m of this.#stored.values()) if (m.cmid === cmid && m.from === this.me) return true
    return false
  }

  recall (id: string, at: number): boolean {
    for (const [seq, m] of this.#stored) {
      if (m.id === id) {
        this.#stored.set(seq, { ...m, body: null, recalledAt: m.recalledAt ?? at })
        return true
      }
    }
    return false
  }

  addPending (entry: PendingEntry): void {
    if (!this.has(entry.cmid)) this.#pending.set(entry.cmid, entry)
  }

  pending (): PendingEntry[] {
    return [...this.#pending.values()]
  }

  pendingEntry (cmid: string): PendingEntry | undefined {
    return this.#pending.get(cmid)
  }

  fail (cmid: string, code: string): void {
    const entry = this.#pending.get(cmid)
    if (entry) this.#pending.set(cmid, { ...entry, failed: code })
  }

  /** A failed send goes back to sending (the caller re-sends it with the same cmid). */
  retry (cmid: string): PendingEntry | undefined {
    const entry = this.#pending.get(cmid)
    if (!entry) return undefined
    const { failed: _failed, ...again } = entry
    this.#pending.set(cmid, again)
    return again
  }

  read (uid: string, seq: number): boolean {
    if (uid === this.me) {
      if (seq <= this.#myReadSeq) return false
      this.#myReadSeq = seq
    } else {
      if (seq <= this.#peerReadSeq) return false
      this.#peerReadSeq = seq
    }
    return true
  }

  /** Messages from others the visitor has not read. */
  unread (): number {
    let n = 0
    for (const m of this.#stored.values()) if (m.from !== this.me && m.seq > this.#myReadSeq) n++
    return n
  }

  items (): ChatItem[] {
    const stored = [...this.#stored.values()].sort((a, b) => a.seq - b.seq).map((m): ChatItem => {
      const mine = m.from === this.me
      const text = m.type === 'text' && m.body && 'text' in m.body ? m.body.text : undefined
      return {
        key: m.id,
        cmid: m.cmid,
        seq: m.seq,
        mine,
        from: m.from,
        ts: m.ts,
        ...(text !== undefined ? { text } : {}),
        recalled: m.recalledAt !== undefined,
        ...(mine ? { state: m.seq <= this.#peerReadSeq ? 'read' as const : 'sent' as const } : {})
      }
    })
    const pending = [...this.#pending.values()].sort((a, b) => a.ts - b.ts).map((p): ChatItem => ({
      key: p.cmid,
      cmid: p.cmid,
      mine: true,
      from: this.me,
      ts: p.ts,
      text: p.text,
      recalled: false,
      state: p.failed !== undefined ? 'failed' : 'sending',
      ...(p.failed !== undefined ? { error: p.failed } : {})
    }))
    return [...stored, ...pending]
  }
}
