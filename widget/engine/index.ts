/**
 * The widget's engine chunk (no UI, no Lit): loaded by the launcher at idle time when the visitor
 * has a chat going (for the unread badge), or with the panel when the chat opens.
 */
export { WidgetSession } from './widget-session.js'
export type { SessionEvents, SessionStatus, ConnectionStatus, Profile } from './widget-session.js'
export type { WidgetOptions } from './options.js'
