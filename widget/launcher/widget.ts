/**
 * widget.js, the one script a site adds (classic script, `async`):
 *
 *   <script src="https://chat.example.com/widget.js" data-site="SITE_KEY" async></script>
 *
 * It defines `<im-chat-widget>`, puts one on the page when the script tag names a site (a site
 * may instead place the element itself), and installs `window.ImChat`. The `data-*` attributes of
 * the script become the element's attributes (`data-prechat` → `prechat`…).
 */
import { createHostApi } from './host-api.js'
import { ImChatWidget, setDefaultServer } from './chat-widget.js'

declare const __IM_VERSION__: string

const script = document.currentScript as HTMLScriptElement | null
if (script?.src) setDefaultServer(new URL(script.src).origin)

// The API first: a page's own <im-chat-widget> upgrades at define() and fires im-ready at once.
window.ImChat ??= createHostApi(__IM_VERSION__)
if (!customElements.get('im-chat-widget')) customElements.define('im-chat-widget', ImChatWidget)

const ATTRIBUTES = ['site', 'server', 'position', 'theme', 'lang', 'prechat', 'idle-release', 'banner-delay', 'identity-token']

function place (): void {
  if (!script?.dataset.site || document.querySelector('im-chat-widget')) return
  const element = document.createElement('im-chat-widget')
  for (const name of ATTRIBUTES) {
    const value = script.getAttribute(`data-${name}`)
    if (value !== null) element.setAttribute(name, value)
  }
  document.body.append(element)
}

if (document.body) place()
else document.addEventListener('DOMContentLoaded', place, { once: true })
