/**
 * Tells everyone what the queue looks like after each change: each waiting visitor its position
 * (when it moved), every agent the head of the queue with its counts, and devices the retained
 * `im/b/support/queue` status `{waiting, agentsOnline, longestWaitMs}`. [IM-SUPPORT-QUEUE]
 *
 * The order is the store's queue index (visitors who wrote first [IM-SUPPORT-RANK]); only the
 * chats in the head agents are shown are read in full, so a queue of hundreds costs one index read
 * and `QUEUE_HEAD` conversation reads per change. [IM-SUPPORT-PAGE]
 */
import { QUEUE_HEAD } from '../../shared/protocol.js'
import type { EventPublisher } from '../im/events.js'
import type { ConversationStore, PrincipalStore, QueueEntry, SupportStore } from '../store/ports.js'
import { allWaiting, queueItem, waitingConversations } from './queue.js'

export interface AnnouncerDeps {
  conversations: ConversationStore
  support: SupportStore
  principals: PrincipalStore
  events: EventPublisher
  now: () => number
}

export class Announcer {
  readonly #deps: AnnouncerDeps
  readonly #positions = new Map<string, number>()
  #lastStatus = ''
  #running: Promise<void> = Promise.resolve()

  constructor (deps: AnnouncerDeps) {
    this.#deps = deps
  }

  /** Announcements run one at a time, in order, each from the current state. */
  async queueChanged (): Promise<void> {
    this.#running = this.#running.then(async () => { await this.#announce() }, async () => { await this.#announce() })
    await this.#running
  }

  async #announce (): Promise<void> {
    const waiting = await allWaiting(this.#deps.support)
    const agents = await this.#deps.support.listAgents()
    const now = this.#deps.now()

    const seen = new Set<string>()
    await Promise.all(waiting.map(async (entry, i) => {
      seen.add(entry.cid)
      if (this.#positions.get(entry.cid) === i + 1) return
      this.#positions.set(entry.cid, i + 1)
      await this.#deps.events.toInbox(entry.visitor, { ev: 'queue', cid: entry.cid, position: i + 1, waiting: waiting.length })
    }))
    for (const cid of this.#positions.keys()) if (!seen.has(cid)) this.#positions.delete(cid)

    const listening = agents.filter((a) => a.status !== 'offline').map((a) => a.uid)
    const head = (await waitingConversations(this.#deps.conversations, waiting.slice(0, QUEUE_HEAD))).map(queueItem)
    const silent = waiting.reduce((n, entry) => n + (entry.wrote ? 0 : 1), 0)
    await this.#deps.events.toInboxes(listening, { ev: 'support-queue', waiting: head, total: waiting.length, silent })
    await this.publishStatus(waiting, agents.filter((a) => a.status === 'online').length, now)
  }

  /** The retained status; republished when it changed (the longest wait is rounded to seconds). */
  async publishStatus (waiting: readonly QueueEntry[], agentsOnline: number, now: number): Promise<void> {
    // the oldest chat is not always the first: writers rank ahead of older silent chats
    const oldest = waiting.reduce((min, entry) => Math.min(min, entry.queuedAt), Infinity)
    const longestWaitMs = waiting.length === 0 ? 0 : Math.max(0, now - oldest)
    const key = `${waiting.length}/${agentsOnline}/${Math.round(longestWaitMs / 1000)}`
    if (key === this.#lastStatus) return
    this.#lastStatus = key
    await this.#deps.events.queueStatus({ waiting: waiting.length, agentsOnline, longestWaitMs, ts: now })
  }
}
