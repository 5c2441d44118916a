/**
 * The waiting queue as the console shows it [IM-SUPPORT-PAGE]: the head the broker sends with
 * every change (`support-queue`: the first chats, visitors who wrote first, and the counts of the
 * whole queue), and as many more as the agent asked for with "Show more" — read over HTTP a page
 * at a time by cursor, and read again (at most once a second) while the queue keeps changing, so
 * what is shown beyond the head does not go stale. A flood of hundreds of waiting chats costs the
 * console the head per change, never the whole list.
 */
import { QUEUE_HEAD, type Conversation, type QueueItem, type SupportQueueEvent } from '../../shared/protocol.js'

export interface QueuePage { waiting: Conversation[], total: number, silent: number, next?: string }
export type LoadQueue = (limit: number, after?: string) => Promise<QueuePage>

/** the most one page asks for (the broker's own cap) */
const MAX_PAGE = 100
/** while the agent sees more than the head, changes are followed by a reload at most this often */
const RELOAD_MS = 1000

export class QueueState {
  items: QueueItem[] = []
  /** waiting chats in all, and those whose visitor wrote nothing yet */
  total = 0
  silent = 0
  readonly #load: LoadQueue
  readonly #changed: () => void
  readonly #failed: (error: unknown) => void
  /** how many the agent wants to see: the head, or more after "Show more" */
  #wanted = QUEUE_HEAD
  /** the cursor after the last item shown, when it came from HTTP */
  #next: string | undefined
  #reload: ReturnType<typeof setTimeout> | undefined

  constructor (load: LoadQueue, changed: () => void, failed: (error: unknown) => void) {
    this.#load = load
    this.#changed = changed
    this.#failed = failed
  }

  /** More chats wait than are shown. */
  get more (): boolean { return this.items.length < this.total }

  /** A `support-queue` event: the new head and counts; beyond the head, a reload soon. */
  update (event: SupportQueueEvent): void {
    this.total = event.total
    this.silent = event.silent
    if (this.#wanted <= QUEUE_HEAD) {
      this.items = event.waiting
      this.#next = undefined
    } else {
      const head = new Set(event.waiting.map((item) => item.cid))
      this.items = [...event.waiting, ...this.items.slice(QUEUE_HEAD).filter((item) => !head.has(item.cid))]
      this.#reloadSoon()
    }
    this.#changed()
  }

  /** Reads what is shown again over HTTP (after a reconnect, or once the queue changed). */
  async reload (): Promise<void> {
    clearTimeout(this.#reload)
    this.#reload = undefined
    const items: QueueItem[] = []
    let page: QueuePage
    let after: string | undefined
    do {
      page = await this.#load(Math.min(MAX_PAGE, this.#wanted - items.length), after)
      items.push(...queueItems(page.waiting))
      after = page.next
    } while (after !== undefined && items.length < this.#wanted)
    this.#apply(items, page)
  }

  /** "Show more": the next page after what is shown. */
  async showMore (): Promise<void> {
    this.#wanted = this.items.length + QUEUE_HEAD
    if (this.#next === undefined) {
      await this.reload() // what is shown came with an event: read it all, with its cursor
      return
    }
    const page = await this.#load(QUEUE_HEAD, this.#next)
    const shown = new Set(this.items.map((item) => item.cid))
    this.#apply([...this.items, ...queueItems(page.waiting).filter((item) => !shown.has(item.cid))], page)
  }

  dispose (): void {
    clearTimeout(this.#reload)
  }

  #apply (items: QueueItem[], page: QueuePage): void {
    this.items = items
    this.total = page.total
    this.silent = page.silent
    this.#next = page.next
    this.#changed()
  }

  #reloadSoon (): void {
    this.#reload ??= setTimeout(() => {
      this.#reload = undefined
      this.reload().catch(this.#failed)
    }, RELOAD_MS)
  }
}

/** `GET /api/v1/support/queue` answers conversations; the console shows what `support-queue` carries. */
export function queueItems (waiting: readonly Conversation[]): QueueItem[] {
  return waiting.flatMap((c) => c.support
    ? [{ cid: c.cid, visitor: c.support.visitor, queuedAt: c.support.queuedAt, context: c.support.context, wrote: c.support.wroteAt !== undefined }]
    : [])
}
