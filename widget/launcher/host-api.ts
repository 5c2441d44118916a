/**
 * `window.ImChat`: the host page's handle on the widget (the first `<im-chat-widget>` on the page).
 *
 *   ImChat.open(); ImChat.close(); ImChat.toggle()
 *   await ImChat.identify(identityToken)   // a signed-in user of the site
 *   await ImChat.shutdown()                // the site's logout: forget this visitor
 *   const off = ImChat.on('unread-count-changed', ({ count }) => …)
 *   ImChat.unreadCount; ImChat.isOpen
 *
 * Events: `ready`, `message`, `unread-count-changed`, `conversation-closed`, `open`, `close` — the
 * same as the element's DOM events `im-*`. A `ready` listener added after the fact runs at once.
 */
import type { WidgetEventDetails, WidgetEventName } from '../events.js'
import type { ImChatWidget } from './chat-widget.js'

export interface ImChatApi {
  readonly version: string
  readonly isOpen: boolean
  readonly unreadCount: number
  open (): void
  close (): void
  toggle (): void
  identify (identityToken: string): Promise<void>
  shutdown (): Promise<void>
  on<K extends WidgetEventName> (name: K, listener: (detail: WidgetEventDetails[K]) => void): () => void
}

function widget (): ImChatWidget | null {
  return document.querySelector('im-chat-widget')
}

export function createHostApi (version: string): ImChatApi {
  return {
    version,
    get isOpen () { return widget()?.isOpen ?? false },
    get unreadCount () { return widget()?.unreadCount ?? 0 },
    open () { widget()?.open() },
    close () { widget()?.close() },
    toggle () { const w = widget(); if (w?.isOpen) w.close(); else w?.open() },
    async identify (identityToken) { await widget()?.identify(identityToken) },
    async shutdown () { await widget()?.shutdown() },
    on (name, listener) {
      const handler = (event: Event): void => { listener((event as CustomEvent<WidgetEventDetails[typeof name]>).detail) }
      document.addEventListener(`im-${name}`, handler)
      const w = widget()
      if (name === 'ready' && w?.isConnected) listener({ site: w.site } as WidgetEventDetails[typeof name])
      return () => { document.removeEventListener(`im-${name}`, handler) }
    }
  }
}

declare global {
  interface Window { ImChat?: ImChatApi }
}
