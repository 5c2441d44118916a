/**
 * Tells everyone what the queue looks like after each change: each waiting visitor its position
 * (when it moved), every agent the waiting list, and devices the retained `im/b/support/queue`
 * status `{waiting, agentsOnline, longestWaitMs}`. [IM-SUPPORT-QUEUE]
 */
import type { Conversation } from '../../shared/protocol.js'
import type { EventPublisher } from '../im/events.js'
import type { ConversationStore, PrincipalStore, SupportStore } from '../store/ports.js'

export interface AnnouncerDeps {
  conversations: ConversationStore
  support: SupportStore
  principals: PrincipalStore
  events: EventPublisher
  now: () => number
}

const SNAPSHOT_LIMIT = 100

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
    const open = await Promise.all((await this.#deps.support.openCids()).map(async (cid) => await this.#deps.conversations.get(cid)))
    const waiting = open.filter((c): c is Conversation => c?.support?.state === 'waiting')
    const agents = await this.#deps.support.listAgents()
    const now = this.#deps.now()

    const seen = new Set<string>()
    await Promise.all(waiting.map(async (conv, i) => {
      seen.add(conv.cid)
      if (this.#positions.get(conv.cid) === i + 1) return
      this.#positions.set(conv.cid, i + 1)
      await this.#deps.events.toInbox(conv.support!.visitor, { ev: 'queue', cid: conv.cid, position: i + 1, waiting: waiting.length })
    }))
    for (const cid of this.#positions.keys()) if (!seen.has(cid)) this.#positions.delete(cid)

    const listening = agents.filter((a) => a.status !== 'offline').map((a) => a.uid)
    const snapshot = waiting.slice(0, SNAPSHOT_LIMIT).map((c) => ({ cid: c.cid, visitor: c.support!.visitor, queuedAt: c.support!.queuedAt, context: c.support!.context }))
    await this.#deps.events.toInboxes(listening, { ev: 'support-queue', waiting: snapshot })
    await this.publishStatus(waiting, agents.filter((a) => a.status === 'online').length, now)
  }

  /** The retained status; republished when it changed (the longest wait is rounded to seconds). */
  async publishStatus (waiting: Conversation[], agentsOnline: number, now: number): Promise<void> {
    const oldest = waiting[0]?.support?.queuedAt
    const longestWaitMs = oldest === undefined ? 0 : Math.max(0, now - oldest)
    const key = `${waiting.length}/${agentsOnline}/${Math.round(longestWaitMs / 1000)}`
    if (key === this.#lastStatus) return
    this.#lastStatus = key
    await this.#deps.events.queueStatus({ waiting: waiting.length, agentsOnline, longestWaitMs, ts: now })
  }
}
