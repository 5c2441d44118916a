/**
 * One support chat as the console holds it, and the pure helpers on it: merging messages (by seq,
 * each once), unread counts, and who owns it.
 */
import type { Conversation, Message } from '../../shared/protocol.js'

export interface ChatState {
  conv: Conversation
  /** by seq, each once (live events and HTTP pages merged) */
  messages: Message[]
  /** the whole history was fetched once */
  loaded: boolean
  /** the agent's own read position */
  myReadSeq: number
  /** the visitor's read position (for "seen") */
  peerReadSeq: number
  /** the visitor is typing until this time (ms, local clock); 0 when not */
  typingUntil: number
  /** the server's unread count, used until the history is here */
  unreadHint: number
  /** assigned to this agent and not opened yet */
  fresh: boolean
  /** handed away by this agent: to an agent uid, or `null` for the queue */
  handedTo?: string | null
}

export function newChat (conv: Conversation, me: string): ChatState {
  return {
    conv: plainConversation(conv),
    messages: [],
    loaded: false,
    myReadSeq: conv.members.find((m) => m.uid === me)?.readSeq ?? 0,
    peerReadSeq: visitorReadSeq(conv),
    typingUntil: 0,
    unreadHint: 0,
    fresh: false
  }
}

/** A summary from the list, without its list-only fields. */
export function plainConversation (conv: Conversation & { lastMessage?: unknown, unread?: unknown }): Conversation {
  const { lastMessage: _lastMessage, unread: _unread, ...plain } = conv
  return plain
}

export function visitorReadSeq (conv: Conversation): number {
  const visitor = conv.support?.visitor
  return conv.members.find((m) => m.uid === visitor)?.readSeq ?? 0
}

/** Merges `incoming` into the chat; returns the messages that were new to it. */
export function mergeMessages (chat: ChatState, incoming: readonly Message[]): Message[] {
  const fresh: Message[] = []
  const bySeq = new Map(chat.messages.map((m) => [m.seq, m]))
  for (const message of incoming) {
    if (message.cid !== chat.conv.cid) continue
    const known = bySeq.get(message.seq)
    if (!known) fresh.push(message)
    // A stored copy carries later recalls and edits: it wins over what was there.
    if (!known || (message.recalledAt ?? 0) > (known.recalledAt ?? 0) || (message.editedAt ?? 0) > (known.editedAt ?? 0)) bySeq.set(message.seq, message)
  }
  if (incoming.length > 0) chat.messages = [...bySeq.values()].sort((a, b) => a.seq - b.seq)
  const top = chat.messages.at(-1)?.seq ?? 0
  if (top > chat.conv.lastSeq) chat.conv = { ...chat.conv, lastSeq: top }
  return fresh
}

/** The highest seq up to which the chat has every message (where a fetch resumes). */
export function contiguousSeq (chat: ChatState): number {
  let seq = 0
  for (const message of chat.messages) {
    if (message.seq !== seq + 1) break
    seq = message.seq
  }
  return seq
}

export function unreadCount (chat: ChatState, me: string): number {
  if (!chat.loaded && chat.messages.length === 0) return chat.unreadHint
  return chat.messages.filter((m) => m.seq > chat.myReadSeq && m.from !== me).length
}

export function isMine (chat: ChatState, me: string): boolean {
  const support = chat.conv.support
  return support?.state === 'active' && support.agent === me && chat.handedTo === undefined
}

/** The visitor's name as the agent sees it: the pre-chat name, else its uid. */
export function visitorName (conv: Conversation): string {
  const name = conv.support?.context.name?.trim()
  return name ? name : (conv.support?.visitor ?? conv.cid)
}

export function textOf (message: Message): string | undefined {
  const body = message.body
  return body && 'text' in body ? body.text : undefined
}

/** The chats `me` owns now, oldest assignment first. */
export function activeChats (chats: Iterable<ChatState>, me: string): ChatState[] {
  return [...chats].filter((c) => isMine(c, me))
    .sort((a, b) => (a.conv.support?.assignedAt ?? 0) - (b.conv.support?.assignedAt ?? 0))
}

/** Closed or handed-away chats, the most recently ended first. */
export function recentChats (chats: Iterable<ChatState>, me: string, limit: number): ChatState[] {
  const ended = (c: ChatState): number => c.conv.support?.closedAt ?? c.conv.support?.assignedAt ?? c.conv.createdAt
  return [...chats].filter((c) => !isMine(c, me) && c.conv.support?.state !== 'waiting')
    .sort((a, b) => ended(b) - ended(a)).slice(0, limit)
}

/** What waits for the agent: unread visitor messages, and each new chat not opened yet. */
export function attention (active: readonly ChatState[], me: string): number {
  return active.reduce((sum, c) => {
    const unread = unreadCount(c, me)
    return sum + unread + (c.fresh && unread === 0 ? 1 : 0)
  }, 0)
}
