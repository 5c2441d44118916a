/** English: the reference table. */
import type { WidgetTranslation } from './translation.js'

const ERRORS: Record<string, string> = {
  IM_ERR_PAYLOAD_TOO_LARGE: 'This message is too long.',
  IM_ERR_CONVERSATION_CLOSED: 'This chat has ended. Start a new one to write again.',
  IM_ERR_UNKNOWN_SITE: 'This chat is not set up for this site.',
  IM_ERR_UNAUTHENTICATED: 'Your chat session has expired. Please reload the page.',
  IM_ERR_TOKEN_EXPIRED: 'Your chat session has expired. Please reload the page.',
  IM_ERR_RATE_LIMITED: 'You are sending too fast. Please wait a moment and try again.',
  CLIENT_OFFLINE: 'You are offline. Please try again when the connection is back.'
}

export const en: WidgetTranslation = {
  $code: 'en',

  openChat: 'Open chat',
  closeChat: 'Close chat',
  unread: (n) => `${n} unread ${n === 1 ? 'message' : 'messages'}`,

  title: 'Chat with us',
  minimize: 'Minimize chat',
  endChat: 'End chat',
  waitingForAgent: 'An agent will join shortly.',
  queuePosition: (p) => p === 1 ? 'You are next in line.' : `You are number ${p} in line.`,
  agentJoined: (name) => `${name} joined the chat.`,
  agentAvatar: (name) => `Avatar of ${name}`,
  agentFallbackName: 'Support',
  offlineNotice: 'No agent is available right now. Leave a message and we will answer you here.',
  queuedNotice: 'Thanks! An agent will join shortly.',
  greeting: 'Hi! How can we help you?',

  messagesLabel: 'Messages',
  you: 'You',
  today: 'Today',
  yesterday: 'Yesterday',
  sending: 'Sending…',
  sent: 'Sent',
  read: 'Read',
  failed: 'Not sent',
  retry: 'Retry',
  recalled: 'This message was recalled.',
  agentTyping: (name) => `${name} is typing…`,
  announceMessage: (from, text) => `${from}: ${text}`,
  unsupportedMessage: 'This message cannot be shown here.',

  messageLabel: 'Your message',
  placeholder: 'Write a message…',
  send: 'Send',

  prechatIntro: 'Tell us who you are, and we will be right with you.',
  nameLabel: 'Name',
  emailLabel: 'Email',
  emailInvalid: 'Please enter a valid email address.',
  required: 'Please fill in this field.',
  startChat: 'Start chat',

  closed: (reason) => {
    switch (reason) {
      case 'visitor': return 'You ended the chat.'
      case 'idle': return 'The chat ended because you were away.'
      case 'silence': return 'The chat ended after a long silence.'
      default: return 'The agent ended the chat.'
    }
  },
  ratePrompt: 'How was your chat?',
  rateStars: (n) => `${n} ${n === 1 ? 'star' : 'stars'}`,
  commentLabel: 'Anything to add? (optional)',
  submitRating: 'Send rating',
  ratingThanks: 'Thank you for your feedback!',
  newChat: 'Start a new chat',

  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  reconnected: 'Connected again.',
  loadFailed: 'The chat could not be loaded.',
  tryAgain: 'Try again',
  error: (code) => ERRORS[code] ?? 'Something went wrong. Please try again.'
}
