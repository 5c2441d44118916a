/**
 * Reading the waiting queue the store keeps in order: visitors who wrote first, then those who
 * have written nothing, each group oldest first [IM-SUPPORT-RANK]. Every read is a page of the
 * store's queue index (bounded), and a conversation is fetched only for what is shown or routed.
 * A cursor names the last chat of a page, so paging holds while chats come and go. [IM-SUPPORT-PAGE]
 */
import type { Conversation, QueueItem } from '../../shared/protocol.js'
import type { ConversationStore, QueueEntry, SupportStore } from '../store/ports.js'

/** entries read at once when the whole queue is wanted (positions, counts) */
export const READ_PAGE = 500

/** Just before the first chat whose visitor has written nothing. */
const SILENT_START: QueueEntry = { cid: '', visitor: '', queuedAt: 0, wrote: false }

/** The whole queue, page by page. */
export async function allWaiting (support: SupportStore): Promise<QueueEntry[]> {
  const all: QueueEntry[] = []
  for (;;) {
    const page = await support.queue(READ_PAGE, all.at(-1))
    all.push(...page)
    if (page.length < READ_PAGE) return all
  }
}

/** The first chat of the group a chat belongs to (writers, or the silent), if any. */
export async function headOf (support: SupportStore, wrote: boolean): Promise<QueueEntry | undefined> {
  const [first] = await support.queue(1, wrote ? undefined : SILENT_START)
  return first?.wrote === wrote ? first : undefined
}

/** The conversations of `entries` that still wait, in the same order. */
export async function waitingConversations (conversations: ConversationStore, entries: readonly QueueEntry[]): Promise<Conversation[]> {
  const convs = await Promise.all(entries.map(async (entry) => await conversations.get(entry.cid)))
  return convs.filter((c): c is Conversation => c?.support?.state === 'waiting')
}

/** A waiting chat as agents see it in the queue. */
export function queueItem (conv: Conversation): QueueItem {
  const support = conv.support!
  return { cid: conv.cid, visitor: support.visitor, queuedAt: support.queuedAt, context: support.context, wrote: support.wroteAt !== undefined }
}

/** `w.{queuedAt}.{cid}` (the visitor wrote) or `s.…`: the last chat of a page, to read on after it. */
export function encodeCursor (entry: QueueEntry): string {
  return `${entry.wrote ? 'w' : 's'}.${entry.queuedAt}.${entry.cid}`
}

export const CURSOR_PATTERN = /^[ws]\.\d{1,16}\.[A-Za-z0-9_-]{1,64}$/

export function decodeCursor (cursor: string): QueueEntry {
  const [tier, at, ...rest] = cursor.split('.')
  return { cid: rest.join('.'), visitor: '', queuedAt: Number(at), wrote: tier === 'w' }
}
