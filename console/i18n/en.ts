/** English: the reference table. */
import type { Translation } from './translation.js'

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`

export const en: Translation = {
  $code: 'en',
  $name: 'English',

  appTitle: 'Agent console',
  titleWithBadge: (count, title) => `(${count}) ${title}`,

  loginTitle: 'Sign in',
  loginIntro: 'Sign in with your agent account to answer visitors.',
  uidLabel: 'User id',
  passwordLabel: 'Password',
  loginButton: 'Sign in',
  loggingIn: 'Signing in…',
  logout: 'Sign out',
  signedInAs: (uid) => `Signed in as ${uid}`,
  sessionEnded: 'Your session has ended. Please sign in again.',
  notAnAgent: 'This account is not an agent account.',

  statusLabel: 'Status',
  status: { online: 'Online', away: 'Away', offline: 'Offline' },
  capacityLabel: 'Capacity',
  load: (active, capacity) => `${active} of ${capacity} chats`,

  languageLabel: 'Language',
  soundLabel: 'Sound',
  desktopLabel: 'Desktop notifications',
  desktopDenied: 'The browser blocks notifications for this page.',

  connecting: 'Connecting…',
  reconnecting: (attempt) => `Connection lost. Reconnecting… (attempt ${attempt})`,
  connectionLost: 'Connection lost. Reconnecting…',
  resynced: 'Reconnected.',

  queueTitle: 'Queue',
  queueEmpty: 'Nobody is waiting.',
  waitingFor: (duration) => `waiting ${duration}`,
  claim: 'Take',
  claimLabel: (name) => `Take the chat with ${name}`,
  queueCount: (count) => plural(count, 'visitor waiting', 'visitors waiting'),
  queueShown: (shown, total) => `Showing ${shown} of ${total}`,
  queueMore: 'Show more',
  noMessageYet: 'No message yet',

  myChatsTitle: 'My chats',
  noChats: 'No active chats.',
  recentTitle: 'Recently closed',
  unread: (count) => plural(count, 'unread message', 'unread messages'),
  newChat: 'New',
  transferredAway: (to) => `Transferred to ${to}`,
  backToQueue: 'Back in the queue',

  noChatSelected: 'Select a chat on the left.',
  chatWith: (name) => `Chat with ${name}`,
  messagesLabel: 'Messages',
  noMessages: 'No messages yet.',
  you: 'You',
  visitor: 'Visitor',
  typing: (name) => `${name} is typing…`,
  seen: 'Seen',
  pendingStatus: { queued: 'Waiting for the connection…', sending: 'Sending…', stored: 'Sent', failed: 'Not sent' },
  recalled: 'This message was recalled.',
  edited: 'edited',
  composerLabel: 'Your reply',
  composerPlaceholder: 'Type a reply…',
  composerHint: 'Enter sends, Shift+Enter starts a new line.',
  send: 'Send',
  cannedLabel: 'Canned reply',
  cannedNone: 'Insert a canned reply…',
  transfer: 'Transfer',
  closeChat: 'Close chat',
  closedBecause: (reason) => `This chat is closed: ${reason}`,
  closeReasons: {
    agent: 'closed by the agent',
    visitor: 'closed by the visitor',
    idle: 'the visitor left (idle)',
    silence: 'the visitor stopped answering',
    'transfer-timeout': 'the transfer timed out',
    admin: 'closed by an administrator'
  },
  waitingState: 'This chat is waiting in the queue.',
  readOnly: 'Past chat (read only)',
  backToChat: 'Back to the current chat',
  pastChatTitle: (date) => `Past chat of ${date}`,
  rating: (score) => `Rated ${score} of 5`,

  transferTitle: 'Transfer the chat',
  transferIntro: 'Hand the chat to another agent, or put it back at the head of the queue.',
  transferToAgent: (uid, active, capacity) => `${uid} (${active} of ${capacity} chats)`,
  transferToQueue: 'Back to the queue',
  noAgentsAvailable: 'No other agent is available.',
  cancel: 'Cancel',
  confirmTransfer: 'Transfer',

  visitorTitle: 'Visitor',
  contextFields: { name: 'Name', email: 'Email', url: 'Page', referrer: 'Came from', locale: 'Language', userAgent: 'Browser' },
  noContext: 'The visitor shared no details.',
  pastChats: 'Past chats',
  noPastChats: 'No earlier chats.',
  pastChatLabel: (date, state) => `${date} · ${state}`,
  chatStates: { waiting: 'waiting', active: 'active', closed: 'closed' },

  duration: (ms) => {
    const s = Math.max(0, Math.floor(ms / 1000))
    if (s < 60) return `${s} s`
    const m = Math.floor(s / 60)
    if (m < 60) return `${m} min ${s % 60} s`
    return `${Math.floor(m / 60)} h ${m % 60} min`
  },

  notifyAssigned: (name) => `New chat with ${name}`,
  notifyMessage: (name) => `New message from ${name}`,

  errors: {
    IM_ERR_BAD_CREDENTIALS: 'Unknown user id or wrong password.',
    IM_ERR_UNAUTHENTICATED: 'Please sign in again.',
    IM_ERR_TOKEN_EXPIRED: 'Your session has expired. Please sign in again.',
    IM_ERR_PRINCIPAL_DISABLED: 'This account is disabled. Ask an administrator.',
    IM_ERR_RATE_LIMITED: 'Too many attempts. Please wait a moment and try again.',
    IM_ERR_FORBIDDEN: 'You may not do that.',
    IM_ERR_NOT_FOUND: 'That no longer exists.',
    IM_ERR_ALREADY_ASSIGNED: 'Another agent has taken this chat already.',
    IM_ERR_AGENT_FULL: 'There is no free slot: raise your capacity or close a chat.',
    IM_ERR_CONVERSATION_CLOSED: 'This chat is closed.',
    IM_ERR_PAYLOAD_TOO_LARGE: 'The message is too long.',
    IM_ERR_BAD_REQUEST: 'The request was not accepted.',
    IM_ERR_INTERNAL: 'Something went wrong on the server.'
  },
  errorNetwork: 'The server cannot be reached.',
  errorGeneric: 'Something went wrong.',
  dismiss: 'Dismiss'
}
