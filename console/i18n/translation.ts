/**
 * The shape of a translation table. Every user-facing string of the console is a key here; the
 * English table (en.ts) and the Simplified Chinese one (zh-CN.ts) must both fill all of it, so a
 * missing string is a type error. Plurals and sentences with values are functions.
 */
import type { ErrorCode } from '../../shared/errors.js'
import type { AgentStatus, CloseReason, VisitorContext } from '../../shared/protocol.js'

export interface Translation {
  /** BCP 47 code of the table */
  $code: string
  /** the language's own name, for the picker */
  $name: string

  appTitle: string
  /** the document title with the badge count */
  titleWithBadge: (count: number, title: string) => string

  // login
  loginTitle: string
  loginIntro: string
  uidLabel: string
  passwordLabel: string
  loginButton: string
  loggingIn: string
  logout: string
  signedInAs: (uid: string) => string
  sessionEnded: string
  notAnAgent: string

  // status and capacity
  statusLabel: string
  status: Record<AgentStatus, string>
  capacityLabel: string
  load: (active: number, capacity: number) => string

  // settings
  languageLabel: string
  soundLabel: string
  desktopLabel: string
  desktopDenied: string

  // connection
  connecting: string
  reconnecting: (attempt: number) => string
  connectionLost: string
  resynced: string

  // queue
  queueTitle: string
  queueEmpty: string
  waitingFor: (duration: string) => string
  claim: string
  claimLabel: (name: string) => string
  queueCount: (count: number) => string
  /** the queue shows `shown` of `total` waiting chats */
  queueShown: (shown: number, total: number) => string
  queueMore: string
  /** a waiting visitor who has written nothing yet (ranked after those who did) */
  noMessageYet: string

  // my chats
  myChatsTitle: string
  noChats: string
  recentTitle: string
  unread: (count: number) => string
  newChat: string
  transferredAway: (to: string) => string
  backToQueue: string

  // chat view
  noChatSelected: string
  chatWith: (name: string) => string
  messagesLabel: string
  noMessages: string
  you: string
  visitor: string
  typing: (name: string) => string
  seen: string
  pendingStatus: Record<'queued' | 'sending' | 'stored' | 'failed', string>
  recalled: string
  edited: string
  composerLabel: string
  composerPlaceholder: string
  composerHint: string
  send: string
  cannedLabel: string
  cannedNone: string
  transfer: string
  closeChat: string
  closedBecause: (reason: string) => string
  closeReasons: Record<CloseReason, string>
  waitingState: string
  readOnly: string
  backToChat: string
  pastChatTitle: (date: string) => string
  rating: (score: number) => string

  // transfer dialog
  transferTitle: string
  transferIntro: string
  transferToAgent: (uid: string, active: number, capacity: number) => string
  transferToQueue: string
  noAgentsAvailable: string
  cancel: string
  confirmTransfer: string

  // visitor panel
  visitorTitle: string
  contextFields: Record<keyof VisitorContext, string>
  noContext: string
  pastChats: string
  noPastChats: string
  pastChatLabel: (date: string, state: string) => string
  chatStates: Record<'waiting' | 'active' | 'closed', string>

  // time
  duration: (ms: number) => string

  // notifications
  notifyAssigned: (name: string) => string
  notifyMessage: (name: string) => string

  // errors
  errors: Partial<Record<ErrorCode, string>>
  errorNetwork: string
  errorGeneric: string
  dismiss: string
}
