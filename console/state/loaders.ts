/** Small fetch helpers of the desk: a chat's whole history page by page, and the queue's rows. */
import type { ImClient } from '../../shared/client/core.js'
import type { Conversation, Message, VisitorContext } from '../../shared/protocol.js'

export interface QueueItem { cid: string, visitor: string, queuedAt: number, context: VisitorContext }

const PAGE = 200

/** Every message of `cid` after `after`, oldest first, following `more` page by page [IM-SYNC-1]. */
export async function fetchHistory (client: ImClient, cid: string, after: number): Promise<Message[]> {
  const all: Message[] = []
  for (let from = after; ;) {
    const page = await client.history(cid, { after: from, limit: PAGE })
    all.push(...page.messages)
    const last = page.messages.at(-1)?.seq
    if (!page.more || last === undefined) return all
    from = last
  }
}

/** `GET /api/v1/support/queue` answers conversations; the console shows what `support-queue` carries. */
export function queueItems (waiting: readonly Conversation[]): QueueItem[] {
  return waiting.flatMap((c) => c.support
    ? [{ cid: c.cid, visitor: c.support.visitor, queuedAt: c.support.queuedAt, context: c.support.context }]
    : [])
}
