/**
 * The IM wire protocol (v1): commands a principal publishes on `im/u/{uid}/out`, events the server
 * publishes on `im/u/{uid}/in`, and the HTTP shapes of conversations and history. Types only: the
 * broker validates commands at runtime (broker/im/commands.ts); clients trust the server's events.
 * [IM-CMD-*], [IM-EV-*] tags refer to docs/protocol.md.
 */
import type { ErrorCode } from './errors.js'

export type ConversationKind = 'direct' | 'group'
export type MessageType = 'text' | 'custom'

export interface TextBody { text: string }
/** App-defined data; the server stores it as given. */
export interface CustomBody { kind: string, data: unknown }

export interface Message {
  /** server id, unique across conversations */
  id: string
  cid: string
  /** 1, 2, 3… per conversation, no gaps [IM-SEQ-1] */
  seq: number
  from: string
  /** server time of storage, ms since the epoch */
  ts: number
  type: MessageType
  body: TextBody | CustomBody | null
  /** the sender's own id for the message (idempotency key) */
  cmid: string
  /** set when the sender recalled it; `body` is then null */
  recalledAt?: number
  /** set when the sender edited it */
  editedAt?: number
}

export interface Member { uid: string, role: 'owner' | 'member', joinedAt: number, readSeq: number }

export interface Conversation {
  cid: string
  kind: ConversationKind
  title?: string
  members: Member[]
  createdAt: number
  createdBy: string
  /** seq of the newest message (0 when empty) */
  lastSeq: number
}

/** A conversation as `GET /api/v1/conversations` lists it for one member. */
export interface ConversationSummary extends Conversation {
  lastMessage: Message | null
  unread: number
}

// ---- commands (principal → server) ----

export interface SendCommand { op: 'send', cmid: string, cid: string, type: MessageType, body: TextBody | CustomBody }
export interface ReadCommand { op: 'read', cid: string, seq: number }
export interface TypingCommand { op: 'typing', cid: string, on: boolean }
export interface RecallCommand { op: 'recall', cid: string, id: string, cmid?: string }
export interface EditCommand { op: 'edit', cid: string, id: string, body: TextBody, cmid?: string }

export type Command = SendCommand | ReadCommand | TypingCommand | RecallCommand | EditCommand
export type CommandOp = Command['op']

// ---- events (server → principal) ----

export interface MsgEvent { ev: 'msg', msg: Message }
export interface ReadEvent { ev: 'read', cid: string, uid: string, seq: number }
export interface TypingEvent { ev: 'typing', cid: string, uid: string, on: boolean, expiresAt: number }
export interface RecallEvent { ev: 'recall', cid: string, id: string, seq: number, by: string, recalledAt: number }
export interface EditEvent { ev: 'edit', msg: Message }
export interface PresenceEvent { ev: 'presence', uid: string, online: boolean, ts: number }
export interface ConvEvent { ev: 'conv', type: 'created' | 'member-added' | 'member-removed', conv: Conversation, uid?: string }
export interface ErrorEvent { ev: 'error', code: ErrorCode, message: string, cmid?: string, op?: string }

export type ImEvent = MsgEvent | ReadEvent | TypingEvent | RecallEvent | EditEvent | PresenceEvent | ConvEvent | ErrorEvent
export type EventName = ImEvent['ev']

/** Retained on `im/p/{uid}`. */
export interface PresenceState { online: boolean, ts: number }

// ---- HTTP ----

export interface CreateConversationRequest { kind: ConversationKind, members: string[], title?: string }
export interface HistoryPage { messages: Message[], /** true when more messages exist in the direction asked */ more: boolean }

/** Typing indicators expire by themselves after this long without a renewal. [IM-EV-TYPING] */
export const TYPING_TTL_MS = 6000
