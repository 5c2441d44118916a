/**
 * When and how the client syncs [IM-SYNC-1]: after every (re)connect it lists the conversations
 * (`GET /api/v1/conversations`, each with its `lastSeq`) and fetches what it misses of each; a
 * failed sync is tried again with backoff while connected (and anyway after the next reconnect).
 * The per-conversation ordering and gap filling live in the `Sequencer`.
 */
import type { ConversationSummary, Message } from '../protocol.js'
import type { Backoff } from './backoff.js'
import type { HttpApi } from './http-api.js'
import { Sequencer, type SyncedRange } from './sync-state.js'
import type { TimerHandle, Timers } from './timers.js'

export interface SyncRunnerDeps {
  http: HttpApi
  timers: Timers
  backoff: Backoff
  gapGraceMs: number
  deliver (message: Message): void
  synced (range: SyncedRange): void
  failed (failure: { cid?: string, error: Error }): void
  connected (): boolean
}

export class SyncRunner {
  readonly sequencer: Sequencer
  readonly #deps: SyncRunnerDeps
  #timer: TimerHandle | null = null
  #running: Promise<void> | null = null
  #again = false
  #listedOnce = false
  #stopped = false

  constructor (deps: SyncRunnerDeps) {
    this.#deps = deps
    this.sequencer = new Sequencer({
      fetchAfter: async (cid, after) => await deps.http.messages(cid, { after, limit: 200 }),
      deliver: (message) => { deps.deliver(message) },
      synced: (range) => { deps.synced(range) },
      failed: (cid, error) => { this.#failed(error, cid) },
      timers: deps.timers,
      gapGraceMs: deps.gapGraceMs
    })
  }

  /** After a (re)connect: sync everything, and keep trying while connected. */
  afterConnect (): void {
    this.#attempt()
  }

  /** Lists the conversations, then fetches each one's missing messages. Concurrent calls share one run. */
  async all (): Promise<void> {
    if (this.#running) { this.#again = true; return await this.#running }
    const run = (async () => {
      do {
        this.#again = false
        await this.#once()
      } while (this.#again)
    })().finally(() => { this.#running = null })
    this.#running = run
    await run
  }

  /** The connection was lost: the retry timer stops (the next connect syncs anyway). */
  pause (): void {
    if (this.#timer !== null) this.#deps.timers.clearTimeout(this.#timer)
    this.#timer = null
  }

  stop (): void {
    this.#stopped = true
    this.pause()
    this.sequencer.clear()
  }

  async #once (): Promise<void> {
    const seq = this.sequencer
    const fresh = !this.#listedOnce
    // On the first list, messages the session delivers meanwhile wait: they decide where each
    // new conversation's tracking starts (see Sequencer.adopt).
    if (fresh) seq.hold()
    let list: ConversationSummary[]
    try {
      list = await this.#deps.http.conversations()
    } catch (err) {
      if (fresh) seq.release()
      throw err
    }
    seq.adopt(list, fresh)
    this.#listedOnce = true
    if (fresh) seq.release()
    const results = await Promise.allSettled(list.map(async (c) => { await seq.syncTo(c.cid, c.lastSeq) }))
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure) throw failure.reason
  }

  #attempt (): void {
    this.all().then(() => { this.#deps.backoff.reset() }, (err: unknown) => { this.#failed(err) })
  }

  #failed (err: unknown, cid?: string): void {
    if (this.#stopped) return
    const error = err instanceof Error ? err : new Error(String(err))
    this.#deps.failed({ ...(cid !== undefined ? { cid } : {}), error })
    if (!this.#deps.connected() || this.#timer !== null) return
    this.#timer = this.#deps.timers.setTimeout(() => {
      this.#timer = null
      if (this.#deps.connected() && !this.#stopped) this.#attempt()
    }, this.#deps.backoff.next())
  }
}
