/**
 * The widget's panel chunk: Lit and the chat UI, loaded when the visitor opens the chat. Importing
 * it defines `<im-chat-panel>` and its parts; the launcher gives the panel its `WidgetSession`.
 */
import './components/chat-panel/chat-panel.js'
export { ChatPanel } from './components/chat-panel/chat-panel.js'
