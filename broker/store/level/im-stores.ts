/**
 * Conversations and messages in the embedded store. Keys are chosen so every query is a key range:
 *
 *   conversations  {cid}                  → Conversation (members, title…; its lastSeq and readSeqs
 *                                           may lag: the two keys below are the truth)
 *   conv-seq       {cid}                  → seq           (the conversation's newest seq)
 *   read           {cid}!{uid}            → seq           (a member's read position)
 *   member-of      {uid}!{cid}            → ''            (a principal's conversations)
 *   pending        {uid}!{cid}            → {by, at}      (invitations it has not accepted; '' from before `by`/`at`)
 *   messages       {cid}!{seq, 12 digits} → Message       (history by seq range)
 *   message-ids    {cid}!{id}             → seq
 *   cmids          {from}!{cid}!{cmid}    → seq           (idempotent sends)
 *
 * A message touches only small keys — the message, its two indexes, the counter, the sender's
 * read position — never the conversation record, so a send costs the same in a group of 500 as
 * in a pair. [IM-PERF-2] Everything that changes one conversation runs alone for that cid
 * (KeyedLock) and is written in one LevelDB batch (shared by everything written in the same
 * event-loop turn: group commit), so a crash leaves either all of it or none of it. [IM-SEQ-1]
 * This process is the store's only writer, so conversations are cached here, written through.
 */
import type { Conversation, Message } from '../../../shared/protocol.js'
import type { ConversationStore, MessageStore } from '../ports.js'
import { KeyedLock } from '../../lib/keyed-lock.js'
import { ConversationState } from './conversation-state.js'
import { LevelConversationStore } from './conversation-store.js'
import { LevelMessageStore } from './message-store.js'
import type { RootDb } from './open.js'
import { writeBatchOf } from './write-batch.js'

export const pad = (seq: number): string => String(seq).padStart(12, '0')
/** '!' separates key parts; '"' is the next character, so `{p}!`…`{p}"` spans exactly the keys under `p`. */
export const under = (prefix: string) => ({ gt: `${prefix}!`, lt: `${prefix}"` })

export function sublevels (root: RootDb) {
  return {
    conversations: root.sublevel<string, Conversation>('conversations', { valueEncoding: 'json' }),
    convSeq: root.sublevel<string, string>('conv-seq', { valueEncoding: 'utf8' }),
    read: root.sublevel<string, string>('read', { valueEncoding: 'utf8' }),
    memberOf: root.sublevel<string, string>('member-of', { valueEncoding: 'utf8' }),
    pending: root.sublevel<string, string>('pending', { valueEncoding: 'utf8' }),
    messages: root.sublevel<string, Message>('messages', { valueEncoding: 'json' }),
    messageIds: root.sublevel<string, string>('message-ids', { valueEncoding: 'utf8' }),
    cmids: root.sublevel<string, string>('cmids', { valueEncoding: 'utf8' })
  }
}
export type Sublevels = ReturnType<typeof sublevels>

/** `cachedConversations`: how many conversations' states are kept in memory (tests make it small). */
export function openImStores (root: RootDb, { cachedConversations }: { cachedConversations?: number } = {}): { conversations: ConversationStore, messages: MessageStore } {
  const db = sublevels(root)
  const shared = { db, lock: new KeyedLock(), batch: writeBatchOf(root), state: new ConversationState(db, cachedConversations) }
  shared.batch.onFailure(() => { shared.state.forgetAll() })
  return { conversations: new LevelConversationStore(shared), messages: new LevelMessageStore(shared) }
}
