/**
 * A chat's rank in the queue: once its visitor writes, it moves ahead of every chat whose visitor
 * has written nothing [IM-SUPPORT-RANK]. Chats opened before the queue was ranked get their place
 * from the leader's sweep: one with messages counts as written in.
 */
import type { Conversation } from '../../shared/protocol.js'
import type { ConversationStore, SupportStore } from '../store/ports.js'

export interface RankingDeps {
  conversations: ConversationStore
  support: SupportStore
}

/** open chats from before the ranked queue that one sweep ranks */
const LEGACY_BATCH = 1000

/**
 * Records that the chat's visitor wrote (at `at`, the first time only) and indexes it; true when
 * that moved a waiting chat, so routing may change. Run under the chat's lock.
 *
 * A waiting chat joins the writers at the time of the first message (its `queuedAt`), not at the
 * time it was opened: chats opened long ago and written in only now — a bot's, on cue — queue
 * behind every visitor who wrote before them. The widget opens a chat with the first message, so
 * for a real visitor the two times are milliseconds apart.
 */
export async function markWrote (deps: RankingDeps, cid: string, at: number): Promise<boolean> {
  let changed = false
  const next = await deps.conversations.update(cid, (c) => {
    if (!c.support || c.support.state === 'closed' || c.support.wroteAt !== undefined) return c
    changed = true
    const queuedAt = c.support.state === 'waiting' ? Math.max(c.support.queuedAt, at) : c.support.queuedAt
    return { ...c, support: { ...c.support, wroteAt: at, queuedAt } }
  })
  if (!changed) return false
  await deps.support.indexOpen(next)
  // An assignment (maybe on another node) may have written the chat between its write above and
  // this index write, leaving the index behind: read again, and index what is there now.
  const now = await deps.conversations.get(cid)
  if (now?.support && (now.support.state !== next.support!.state || now.support.queuedAt !== next.support!.queuedAt)) await deps.support.indexOpen(now)
  return next.support?.state === 'waiting'
}

/** Open chats the store lists as indexed before ranks, each with whether it counts as written in (it has messages). */
export async function legacyChats (deps: RankingDeps): Promise<Array<{ conv: Conversation, written: boolean }>> {
  const found = []
  for (const cid of await deps.support.unranked(LEGACY_BATCH)) {
    const conv = await deps.conversations.get(cid)
    if (!conv?.support) continue // a dangling entry: nothing to rank it by
    found.push({ conv, written: conv.lastSeq > 0 && conv.support.state !== 'closed' && conv.support.wroteAt === undefined })
  }
  return found
}
