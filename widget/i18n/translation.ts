/**
 * The shape of the widget's translation tables. Every string a visitor sees is a key here; the
 * English (en.ts) and Simplified Chinese (zh-CN.ts) tables must both fill all of it, so a missing
 * string is a type error. Sentences with values are functions.
 */
import type { CloseReason } from '../../shared/protocol.js'

export interface WidgetTranslation {
  /** BCP 47 code of the table */
  $code: string

  // launcher
  openChat: string
  closeChat: string
  /** the badge's accessible label */
  unread: (count: number) => string

  // header
  title: string
  minimize: string
  endChat: string
  waitingForAgent: string
  queuePosition: (position: number) => string
  agentJoined: (name: string) => string
  /** the avatar's label */
  agentAvatar: (name: string) => string
  agentFallbackName: string
  offlineNotice: string
  queuedNotice: string
  greeting: string

  // messages
  messagesLabel: string
  you: string
  today: string
  yesterday: string
  sending: string
  sent: string
  read: string
  failed: string
  retry: string
  recalled: string
  agentTyping: (name: string) => string
  /** what the ARIA live region says for a new message */
  announceMessage: (from: string, text: string) => string
  unsupportedMessage: string

  // composer
  messageLabel: string
  placeholder: string
  send: string

  // pre-chat form
  prechatIntro: string
  nameLabel: string
  emailLabel: string
  emailInvalid: string
  required: string
  startChat: string

  // end of a chat
  closed: (reason: CloseReason | undefined) => string
  ratePrompt: string
  rateStars: (score: number) => string
  commentLabel: string
  submitRating: string
  ratingThanks: string
  newChat: string

  // connection
  connecting: string
  reconnecting: string
  reconnected: string
  loadFailed: string
  tryAgain: string
  /** a server error, by catalogue code */
  error: (code: string) => string
}
