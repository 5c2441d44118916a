/**
 * Per-conversation ordering of messages [IM-SYNC-1]: the client keeps, for each conversation, the
 * highest `seq` it has handed to the application (`lastSeq`) and hands out messages strictly in
 * seq order, each once:
 *
 * - a `msg` with `seq = lastSeq + 1` goes out at once; one at or below `lastSeq`, or with an `id`
 *   seen already, is a duplicate (QoS 1 re-delivery, the second echo of a retried cmid) and is dropped;
 * - a `msg` that skips seqs waits while the gap is fetched over HTTP (`after=lastSeq`, page by page
 *   until `more` is false); the missing messages go out first, in order, then the one that revealed
 *   the gap. Events of two senders may cross on the way, so a gap is given `gapGraceMs` to fill
 *   itself before HTTP is asked.
 *
 * One fetch runs per conversation at a time; what arrives meanwhile joins the queue.
 */
import type { HistoryPage, Message } from '../protocol.js'
import { RecentSet } from './recent-set.js'
import type { TimerHandle, Timers } from './timers.js'

export interface SyncedRange {
  cid: string
  /** lastSeq before the sync */
  from: number
  /** lastSeq after it */
  to: number
}

export interface SequencerDeps {
  fetchAfter (cid: string, after: number): Promise<HistoryPage>
  /** a message, in order, once */
  deliver (message: Message): void
  /** a fetch moved lastSeq forward */
  synced (range: SyncedRange): void
  /** a fetch started by a gap failed; the queued messages wait for the next sync */
  failed (cid: string, error: unknown): void
  timers: Timers
  gapGraceMs: number
}

interface ConvState {
  lastSeq: number
  /** messages after a gap, by seq */
  readonly queue: Map<number, Message>
  running: Promise<void> | null
  /** something new was asked for while a fetch ran: fetch once more */
  again: boolean
  grace: TimerHandle | null
}

export class Sequencer {
  readonly #deps: SequencerDeps
  readonly #convs = new Map<string, ConvState>()
  readonly #seen = new RecentSet()
  #held: Message[] | null = null

  constructor (deps: SequencerDeps) {
    this.#deps = deps
  }

  lastSeq (cid: string): number | undefined {
    return this.#convs.get(cid)?.lastSeq
  }

  /** Every conversation's lastSeq, for the application to keep and give back at the next start. */
  snapshot (): Record<string, number> {
    return Object.fromEntries([...this.#convs].map(([cid, state]) => [cid, state.lastSeq]))
  }

  /** Starts tracking `cid` from `lastSeq` (messages up to it count as history); false if it was known. */
  know (cid: string, lastSeq: number): boolean {
    if (this.#convs.has(cid)) return false
    this.#create(cid, lastSeq)
    return true
  }

  forget (cid: string): void {
    const state = this.#convs.get(cid)
    if (!state) return
    this.#clearGrace(state)
    this.#convs.delete(cid)
  }

  /** Keeps incoming messages aside (until `release`) while the first conversation list is fetched. */
  hold (): void {
    this.#held ??= []
  }

  /**
   * Tracks the listed conversations it does not know yet. On the client's first list (`fresh`) a
   * conversation starts at its server lastSeq — older messages are history, not news — except that
   * messages the persistent session delivered meanwhile are news. On a later list a conversation
   * still unknown appeared while the client was away, so all of it is news.
   */
  adopt (list: ReadonlyArray<{ cid: string, lastSeq: number }>, fresh: boolean): void {
    for (const { cid, lastSeq } of list) {
      if (this.#convs.has(cid)) continue
      const held = this.#held?.filter((m) => m.cid === cid).map((m) => m.seq) ?? []
      this.#create(cid, fresh ? Math.min(lastSeq, ...held.map((seq) => seq - 1)) : 0)
    }
  }

  release (): void {
    const held = this.#held ?? []
    this.#held = null
    for (const message of held) this.receive(message)
  }

  /** A `msg` event from the inbox. */
  receive (message: Message): void {
    if (this.#seen.has(message.id)) return
    if (this.#held) { this.#held.push(message); return }
    // The first message of a conversation never seen starts its tracking.
    const state = this.#convs.get(message.cid) ?? this.#create(message.cid, message.seq - 1)
    if (message.seq <= state.lastSeq) return
    state.queue.set(message.seq, message)
    this.#drain(state)
    if (state.queue.size > 0) this.#gap(message.cid, state)
  }

  /**
   * Fetches what is missing of `cid` after its lastSeq (everything, for a conversation not tracked
   * yet). With `target` (the server's lastSeq), nothing is fetched when the client has it already.
   */
  async syncTo (cid: string, target?: number): Promise<void> {
    const state = this.#convs.get(cid) ?? this.#create(cid, 0)
    if (target !== undefined && state.lastSeq >= target && state.queue.size === 0 && !state.running) return
    await this.#run(cid, state)
  }

  /** Stops grace timers (the client is closing). */
  clear (): void {
    for (const state of this.#convs.values()) this.#clearGrace(state)
  }

  #create (cid: string, lastSeq: number): ConvState {
    const state: ConvState = { lastSeq: Math.max(0, lastSeq), queue: new Map(), running: null, again: false, grace: null }
    this.#convs.set(cid, state)
    return state
  }

  /** Hands out every queued message that comes next, in order. */
  #drain (state: ConvState): void {
    for (let next = state.queue.get(state.lastSeq + 1); next; next = state.queue.get(state.lastSeq + 1)) {
      state.queue.delete(next.seq)
      state.lastSeq = next.seq
      if (this.#seen.add(next.id)) this.#deps.deliver(next)
    }
    for (const seq of state.queue.keys()) if (seq <= state.lastSeq) state.queue.delete(seq)
  }

  #gap (cid: string, state: ConvState): void {
    if (state.running) { state.again = true; return }
    if (state.grace !== null) return
    const start = (): void => {
      state.grace = null
      if (this.#convs.get(cid) !== state || state.queue.size === 0) return
      this.#run(cid, state).catch((err: unknown) => { this.#deps.failed(cid, err) })
    }
    if (this.#deps.gapGraceMs <= 0) start()
    else state.grace = this.#deps.timers.setTimeout(start, this.#deps.gapGraceMs)
  }

  #run (cid: string, state: ConvState): Promise<void> {
    if (state.running) { state.again = true; return state.running }
    this.#clearGrace(state)
    const run = this.#fetchMissing(cid, state).finally(() => { state.running = null })
    state.running = run
    return run
  }

  async #fetchMissing (cid: string, state: ConvState): Promise<void> {
    const from = state.lastSeq
    do {
      state.again = false
      for (;;) {
        const after = state.lastSeq
        const page = await this.#deps.fetchAfter(cid, after)
        if (this.#convs.get(cid) !== state) return
        // The stored copy wins over a queued event: it carries later edits and recalls.
        for (const m of page.messages) if (m.cid === cid && m.seq > state.lastSeq) state.queue.set(m.seq, m)
        this.#drain(state)
        if (!page.more || state.lastSeq === after) break
      }
    } while (state.again)
    // What is still queued lies past a hole the server cannot fill: hand it out rather than stall.
    for (const seq of [...state.queue.keys()].sort((a, b) => a - b)) {
      const message = state.queue.get(seq)!
      state.queue.delete(seq)
      state.lastSeq = seq
      if (this.#seen.add(message.id)) this.#deps.deliver(message)
    }
    if (state.lastSeq > from) this.#deps.synced({ cid, from, to: state.lastSeq })
  }

  #clearGrace (state: ConvState): void {
    if (state.grace === null) return
    this.#deps.timers.clearTimeout(state.grace)
    state.grace = null
  }
}
