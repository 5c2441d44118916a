/**
 * `<im-chat-widget>`: the launcher — a round button with the unread badge — and the frame the chat
 * panel opens in. It is plain DOM (no Lit) so that what every page loads stays small; the panel
 * (Lit, the MQTT client) is fetched when the visitor opens the chat, or at idle time when this
 * browser has a chat going (so the badge can count new messages).
 *
 * @attr site - the site key (required)
 * @attr server - the broker's HTTP origin (default: where widget.js came from)
 * @attr position - `right` (default) or `left`
 * @attr theme - `auto` (default: the system's), `light` or `dark`
 * @attr lang - `en` or `zh-CN` (default: the page's `<html lang>`, then the browser's)
 * @attr prechat - fields asked before the first message: `name`, `email` or `name,email`
 * @attr idle-release - seconds hidden before the connection is released (default 300; 0: never)
 * @attr banner-delay - ms a lost connection stays quiet before the banner shows (default 3000)
 * @attr identity-token - a site-signed identity for a signed-in user of the host site
 *
 * @event im-ready, im-message, im-unread-count-changed, im-conversation-closed, im-open, im-close
 *
 * @csspart launcher - the round button
 * @csspart badge - the unread count on it
 * @csspart panel - the chat window (its inner parts are exported too: header, messages, composer…)
 *
 * @cssproperty --im-accent, --im-accent-text, --im-bg, --im-text, --im-muted, --im-border,
 *   --im-surface, --im-bubble-visitor, --im-bubble-visitor-text, --im-bubble-agent,
 *   --im-bubble-agent-text, --im-error, --im-radius, --im-font, --im-offset, --im-z-index,
 *   --im-panel-width, --im-panel-height
 */
import type { WidgetSession } from '../engine/widget-session.js'
import { DEFAULT_BANNER_DELAY_MS, DEFAULT_IDLE_RELEASE_MS, type WidgetOptions } from '../engine/options.js'
import { ACTIVE_CHAT_KEY, SiteStorage } from '../engine/storage.js'
import { widgetEvent, type WidgetEventDetails, type WidgetEventName } from '../events.js'
import { widgetLocale } from '../i18n/locale.js'
import { launcherCss } from './chat-widget.styles.js'

/** File names of the lazily loaded chunks, set by the build (scripts/build-widget.ts). */
declare const __IM_CHUNKS__: { engine: string, panel: string }

interface EngineModule { WidgetSession: new (options: WidgetOptions) => WidgetSession }
interface PanelElement extends HTMLElement { session: WidgetSession | undefined, focusFirst (): void }

/** how soon opening is tried again when the panel's code could not be fetched */
const LOAD_RETRY_MS = 3000
const SVG = 'http://www.w3.org/2000/svg'
const CHAT_ICON = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z'
const CLOSE_ICON = 'M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z'

let defaultServer = location.origin

/** The origin widget.js was served from: the broker. */
export function setDefaultServer (origin: string): void {
  defaultServer = origin
}

function icon (d: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('aria-hidden', 'true')
  const path = document.createElementNS(SVG, 'path')
  path.setAttribute('d', d)
  svg.append(path)
  return svg
}

function el<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Record<string, string>, ...children: Node[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value)
  node.append(...children)
  return node
}

export class ImChatWidget extends HTMLElement {
  static readonly observedAttributes = ['lang']
  readonly #root: ShadowRoot
  readonly #button: HTMLButtonElement
  readonly #badge: HTMLSpanElement
  readonly #frame: HTMLDivElement
  #engine: Promise<EngineModule> | undefined
  #panel: PanelElement | undefined
  #session: WidgetSession | undefined
  #unread = 0
  #ready = false

  constructor () {
    super()
    this.#root = this.attachShadow({ mode: 'open' })
    const sheet = new CSSStyleSheet()
    sheet.replaceSync(launcherCss)
    this.#root.adoptedStyleSheets = [sheet]
    this.#badge = el('span', { part: 'badge', class: 'badge', 'aria-hidden': 'true' })
    this.#badge.hidden = true
    this.#button = el('button', { part: 'launcher', class: 'launcher', type: 'button', 'aria-expanded': 'false', 'aria-haspopup': 'dialog' },
      icon(CHAT_ICON), icon(CLOSE_ICON), this.#badge)
    this.#frame = el('div', { part: 'panel', class: 'panel', role: 'dialog', id: 'panel' })
    this.#frame.hidden = true
    this.#button.setAttribute('aria-controls', 'panel')
    this.#button.addEventListener('click', () => { if (this.isOpen) this.close(); else this.open() })
    this.#frame.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); this.close() } })
    this.#frame.addEventListener('panel-minimize', () => { this.close() })
    this.#root.append(this.#frame, this.#button)
  }

  connectedCallback (): void {
    this.#label()
    if (!this.#ready) {
      this.#ready = true
      this.dispatchEvent(widgetEvent('ready', { site: this.site }))
    }
    // A chat going on in this browser: connect at idle time so the badge counts what comes.
    if (this.site && !this.#session && hasActiveChat(this.site)) whenIdle(() => { void this.#startSession().catch(() => undefined) })
  }

  attributeChangedCallback (): void {
    this.#label()
  }

  get site (): string { return this.getAttribute('site') ?? '' }

  get isOpen (): boolean { return this.hasAttribute('open') }

  get unreadCount (): number { return this.#unread }

  /** Opens the chat panel (loading it the first time) and moves the focus into it. */
  open (): void {
    if (this.isOpen) return
    this.toggleAttribute('open', true)
    this.#frame.hidden = false
    this.#label()
    this.dispatchEvent(widgetEvent('open', {}))
    if (!this.#panel) {
      this.#frame.replaceChildren(el('p', { class: 'loading', role: 'status' }, document.createTextNode(widgetLocale(this).connecting)))
    }
    this.#load()
  }

  /** Shows the panel; while its code cannot be fetched (the server down), says so and tries again. */
  #load (): void {
    this.#showPanel().catch(() => {
      if (this.#panel) return // the panel shows the session's own error and retries
      this.#frame.replaceChildren(el('p', { class: 'loading', role: 'alert' }, document.createTextNode(widgetLocale(this).loadFailed)))
      setTimeout(() => { if (this.isOpen && !this.#panel) this.#load() }, LOAD_RETRY_MS)
    })
  }

  /** Hides the panel (the chat and the connection go on) and gives the focus back to the button. */
  close (): void {
    if (!this.isOpen) return
    const hadFocus = this.matches(':focus-within')
    this.removeAttribute('open')
    this.#frame.hidden = true
    this.#session?.setViewing(false)
    this.#label()
    if (hadFocus) this.#button.focus()
    this.dispatchEvent(widgetEvent('close', {}))
  }

  /** A signed-in user of the host site: the chat continues as that user (a new session). */
  async identify (identityToken: string): Promise<void> {
    this.setAttribute('identity-token', identityToken)
    await this.#restart()
  }

  /** The host site's logout: the connection closes and this browser forgets the visitor. */
  async shutdown (): Promise<void> {
    this.removeAttribute('identity-token')
    this.close()
    await this.#restart(false)
    // Also when no session ran on this page (e.g. a logout page): the next person is a new visitor.
    new SiteStorage(this.site).clear()
  }

  async #restart (startAgain = true): Promise<void> {
    const old = this.#session
    this.#session = undefined
    await old?.shutdown()
    this.#panel?.remove()
    this.#panel = undefined
    this.#setUnread(0)
    if (startAgain && (this.isOpen || old)) {
      if (this.isOpen) await this.#showPanel()
      else await this.#startSession()
    }
  }

  async #showPanel (): Promise<void> {
    const session = await this.#startSession()
    await import(/* @vite-ignore */ this.#chunkUrl(__IM_CHUNKS__.panel))
    if (!this.#panel) {
      this.#panel = document.createElement('im-chat-panel') as PanelElement
      this.#panel.setAttribute('exportparts', 'header, title, status, avatar, banner, messages, message, bubble, composer, input, send-button, prechat, rating')
      this.#panel.session = session
      this.#frame.replaceChildren(this.#panel)
      if (this.isOpen) await customElements.whenDefined('im-chat-panel')
    }
    if (this.isOpen) {
      session.setViewing(true)
      requestAnimationFrame(() => { this.#panel?.focusFirst() })
    }
  }

  /** The session (loading the engine chunk the first time), started. */
  async #startSession (): Promise<WidgetSession> {
    if (this.#session) return this.#session
    // A failed import is forgotten, so the next attempt fetches again.
    this.#engine ??= (import(/* @vite-ignore */ this.#chunkUrl(__IM_CHUNKS__.engine)) as Promise<EngineModule>)
      .catch((err: unknown) => { this.#engine = undefined; throw err })
    const { WidgetSession } = await this.#engine
    if (this.#session) return this.#session
    const session = new WidgetSession(this.#options())
    this.#session = session
    session.on('unread-count-changed', ({ count }) => { this.#setUnread(count) })
    session.on('message', (message) => { this.#emit('message', { message }) })
    session.on('conversation-closed', (detail) => { this.#emit('conversation-closed', detail) })
    // Not awaited: the panel shows how the start goes, and a failed start tries again by itself.
    session.start().catch(() => undefined)
    return session
  }

  #options (): WidgetOptions {
    const seconds = Number(this.getAttribute('idle-release') ?? NaN)
    const delay = Number(this.getAttribute('banner-delay') ?? NaN)
    const prechat = (this.getAttribute('prechat') ?? '').split(',').map((f) => f.trim())
      .filter((f): f is 'name' | 'email' => f === 'name' || f === 'email')
    const identityToken = this.getAttribute('identity-token')
    return {
      site: this.site,
      server: this.getAttribute('server') ?? defaultServer,
      prechat,
      idleReleaseMs: Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_IDLE_RELEASE_MS,
      bannerDelayMs: Number.isFinite(delay) && delay >= 0 ? delay : DEFAULT_BANNER_DELAY_MS,
      locale: widgetLocale(this).$code,
      ...(identityToken ? { identityToken } : {})
    }
  }

  #chunkUrl (file: string): string {
    return new URL(`/widget/${file}`, this.getAttribute('server') ?? defaultServer).href
  }

  #emit<K extends WidgetEventName> (name: K, detail: WidgetEventDetails[K]): void {
    this.dispatchEvent(widgetEvent(name, detail))
  }

  #setUnread (count: number): void {
    if (count === this.#unread) return
    this.#unread = count
    this.#badge.textContent = count > 99 ? '99+' : String(count)
    this.#badge.hidden = count === 0
    this.#label()
    this.#emit('unread-count-changed', { count })
  }

  #label (): void {
    const t = widgetLocale(this)
    const label = this.isOpen ? t.closeChat : t.openChat
    this.#button.setAttribute('aria-label', this.#unread > 0 ? `${label}, ${t.unread(this.#unread)}` : label)
    this.#button.setAttribute('aria-expanded', String(this.isOpen))
    const [chat, close] = this.#button.querySelectorAll('svg')
    if (chat && close) { chat.style.display = this.isOpen ? 'none' : ''; close.style.display = this.isOpen ? '' : 'none' }
    this.#frame.setAttribute('aria-label', t.title)
  }
}

function hasActiveChat (site: string): boolean {
  return new SiteStorage(site).get<boolean>(ACTIVE_CHAT_KEY) === true
}

function whenIdle (run: () => void): void {
  if (typeof requestIdleCallback === 'function') requestIdleCallback(run, { timeout: 3000 })
  else setTimeout(run, 1500)
}

declare global {
  interface HTMLElementTagNameMap { 'im-chat-widget': ImChatWidget }
}
