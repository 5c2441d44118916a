/** Small fetch helpers of the desk: a chat's whole history page by page. */
import type { ImClient } from '../../shared/client/core.js'
import type { Message } from '../../shared/protocol.js'

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
