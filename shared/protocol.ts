/**
 * The IM wire protocol (v1): commands a principal publishes on `im/u/{uid}/out`, events the server
 * publishes on `im/u/{uid}/in`, and the HTTP shapes of conversations and history. Types only: the
 * broker validates commands at runtime (broker/im/commands.ts); clients trust the server's events.
 * [IM-CMD-*], [IM-EV-*] tags refer to docs/protocol.md.
 */
import type { ErrorCode } from './errors.js'

export type ConversationKind = 'direct' | 'group' | 'support'
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

export interface Member {
  uid: string
  role: 'owner' | 'member'
  joinedAt: number
  readSeq: number
  /** added by someone else and not yet accepted (by reading or writing in it) [IM-CONV-2] */
  pending?: boolean
  /** who added it (an invitation; absent when an admin added it) [IM-CONV-2] */
  invitedBy?: string
  /**
   * Server-side only, never sent: an invitation kept from its invitee (a uid that does not exist,
   * a visitor, a disabled principal, or one with no room for it) — listed pending like any other,
   * but not a member. [IM-CONV-2]
   */
  held?: boolean
}

export interface Conversation {
  cid: string
  kind: ConversationKind
  title?: string
  members: Member[]
  createdAt: number
  createdBy: string
  /** seq of the newest message (0 when empty) */
  lastSeq: number
  /** customer-service state, for `kind: 'support'` only */
  support?: SupportInfo
}

// ---- customer service ----

export type SupportState = 'waiting' | 'active' | 'closed'
export type CloseReason = 'agent' | 'visitor' | 'idle' | 'silence' | 'transfer-timeout' | 'admin'

/** What the widget knows about the visitor's page, sent when a support chat opens. */
export interface VisitorContext {
  url?: string
  referrer?: string
  locale?: string
  userAgent?: string
  name?: string
  email?: string
}

export interface SupportInfo {
  site: string
  visitor: string
  /** the agent who owns the chat while it is active */
  agent?: string
  /** that agent's display name, for the visitor (absent when the agent has none) */
  agentName?: string
  state: SupportState
  context: VisitorContext
  /** when it entered the queue (FIFO order) */
  queuedAt: number
  /** when its visitor first wrote in it: waiting chats whose visitor wrote rank first [IM-SUPPORT-RANK] */
  wroteAt?: number
  assignedAt?: number
  closedAt?: number
  closedReason?: CloseReason
  /** the visitor's 1–5 rating after close */
  rating?: { score: number, comment?: string }
}

export type AgentStatus = 'online' | 'away' | 'offline'

export interface AgentState {
  uid: string
  status: AgentStatus
  capacity: number
  /** cids of the active chats this agent owns */
  active: string[]
  /** when the agent last got a chat or freed a slot (ties in routing go to the longest idle) */
  idleSince: number
  /** when the agent's last connection closed (away after the grace period) */
  disconnectedAt?: number
  /** set when the broker (not the agent) made it `away`; it is `online` again when it reconnects */
  autoAway?: boolean
}

/** Retained on `im/b/support/queue` for dashboards and devices. */
export interface QueueStatus { waiting: number, agentsOnline: number, longestWaitMs: number, ts: number }

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

export interface SupportOpenCommand { op: 'support.open', cmid?: string, site?: string, context?: VisitorContext }
export interface SupportCloseCommand { op: 'support.close', cid: string }
export interface SupportClaimCommand { op: 'support.claim', cid: string }
export interface SupportTransferCommand { op: 'support.transfer', cid: string, to?: string }
export interface SupportRateCommand { op: 'support.rate', cid: string, score: number, comment?: string }
export interface AgentStatusCommand { op: 'agent.status', status: AgentStatus, capacity?: number }

export type SupportCommand = SupportOpenCommand | SupportCloseCommand | SupportClaimCommand | SupportTransferCommand | SupportRateCommand | AgentStatusCommand
export type Command = SendCommand | ReadCommand | TypingCommand | RecallCommand | EditCommand
export type CommandOp = Command['op']

// ---- events (server → principal) ----

export interface MsgEvent { ev: 'msg', msg: Message }
export interface ReadEvent { ev: 'read', cid: string, uid: string, seq: number }
export interface TypingEvent { ev: 'typing', cid: string, uid: string, on: boolean, expiresAt: number }
export interface RecallEvent { ev: 'recall', cid: string, id: string, seq: number, by: string, recalledAt: number }
export interface EditEvent { ev: 'edit', msg: Message }
export interface PresenceEvent { ev: 'presence', uid: string, online: boolean, ts: number }
export interface ConvEvent { ev: 'conv', type: 'created' | 'member-added' | 'member-removed' | 'assigned' | 'transferred' | 'closed' | 'rated', conv: Conversation, uid?: string }
/** To a waiting visitor: its place in the queue (1 = next). */
export interface QueueEvent { ev: 'queue', cid: string, position: number, waiting: number }
/** To a visitor: a short localized notice (`offline`: no agent now, your messages will be answered). */
export interface NoticeEvent { ev: 'notice', cid: string, code: 'queued' | 'offline' | 'assigned', text: string }
/** One waiting chat as agents see it in the queue. */
export interface QueueItem { cid: string, visitor: string, queuedAt: number, context: VisitorContext, wrote: boolean }
/**
 * To agents: the waiting queue changed. `waiting` is its head in queue order (visitors who wrote
 * first), at most `QUEUE_HEAD` chats; `total` and `silent` count the whole queue (`GET
 * /api/v1/support/queue` pages through it). [IM-SUPPORT-PAGE]
 */
export interface SupportQueueEvent { ev: 'support-queue', waiting: QueueItem[], total: number, silent: number }
/** how many waiting chats the `support-queue` event carries, and the queue API's default page */
export const QUEUE_HEAD = 20
export interface AgentEvent { ev: 'agent', agent: AgentState }
export interface ErrorEvent { ev: 'error', code: ErrorCode, message: string, cmid?: string, op?: string }

export type ImEvent = MsgEvent | ReadEvent | TypingEvent | RecallEvent | EditEvent | PresenceEvent | ConvEvent | ErrorEvent
/** Customer-service events (visitors and agents). */
export type SupportEvent = QueueEvent | NoticeEvent | SupportQueueEvent | AgentEvent
/** Everything the server publishes on an inbox. */
export type ServerEvent = ImEvent | SupportEvent
export type EventName = ImEvent['ev']

/** Retained on `im/p/{uid}`. */
export interface PresenceState { online: boolean, ts: number }

// ---- HTTP ----

export interface CreateConversationRequest { kind: ConversationKind, members: string[], title?: string }
export interface HistoryPage { messages: Message[], /** true when more messages exist in the direction asked */ more: boolean }

/** Typing indicators expire by themselves after this long without a renewal. [IM-EV-TYPING] */
export const TYPING_TTL_MS = 6000
