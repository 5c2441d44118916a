/**
 * The widget's DOM events: `im-*`, kebab-case, dispatched on the `<im-chat-widget>` element,
 * bubbling and composed (they reach `document` and `window`). The host-page API (`ImChat.on`)
 * delivers the same details. One type per event, declared in `GlobalEventHandlersEventMap`.
 */
import type { Conversation, Message } from '../shared/protocol.js'

export interface WidgetEventDetails {
  /** the widget is on the page and `window.ImChat` works */
  ready: { site: string }
  /** a new message from the agent (not history) */
  message: { message: Message }
  'unread-count-changed': { count: number }
  'conversation-closed': { conversation: Conversation }
  /** the chat panel opened / closed */
  open: Record<string, never>
  close: Record<string, never>
}

export type WidgetEventName = keyof WidgetEventDetails

export function widgetEvent<K extends WidgetEventName> (name: K, detail: WidgetEventDetails[K]): CustomEvent<WidgetEventDetails[K]> {
  return new CustomEvent(`im-${name}`, { detail, bubbles: true, composed: true })
}

declare global {
  interface GlobalEventHandlersEventMap {
    'im-ready': CustomEvent<WidgetEventDetails['ready']>
    'im-message': CustomEvent<WidgetEventDetails['message']>
    'im-unread-count-changed': CustomEvent<WidgetEventDetails['unread-count-changed']>
    'im-conversation-closed': CustomEvent<WidgetEventDetails['conversation-closed']>
    'im-open': CustomEvent<WidgetEventDetails['open']>
    'im-close': CustomEvent<WidgetEventDetails['close']>
  }
}
