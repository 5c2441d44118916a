import { LitElement, html, type PropertyValues } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import type { WidgetSession } from '../../../engine/widget-session.js'
import { widgetLocale } from '../../../i18n/locale.js'
import type { WidgetTranslation } from '../../../i18n/translation.js'
import '../chat-composer/chat-composer.js'
import type { ChatComposer } from '../chat-composer/chat-composer.js'
import '../message-list/message-list.js'
import '../prechat-form/prechat-form.js'
import type { PrechatForm } from '../prechat-form/prechat-form.js'
import '../rating-form/rating-form.js'
import { styles } from './chat-panel.styles.js'

/**
 * @summary The chat window: a header with the agent (name, avatar) or the queue position, a quiet
 * "reconnecting…" banner, the pre-chat form or the messages, the composer — or, once the chat has
 * ended, why, a rating form and "start a new chat". It renders a `WidgetSession` and calls it; a
 * polite live region reads out new messages from the agent.
 *
 * @event panel-minimize - the visitor asked to hide the panel (the launcher closes it).
 *
 * @csspart header, title, status, avatar, banner, messages, message, bubble, composer, input,
 *   send-button, prechat, rating
 */
@customElement('im-chat-panel')
export class ChatPanel extends LitElement {
  static override styles = styles

  @property({ attribute: false }) accessor session: WidgetSession | undefined
  @state() accessor announcement = ''
  @query('im-chat-composer') accessor composer: ChatComposer | null = null
  @query('im-prechat-form') accessor prechat: PrechatForm | null = null

  #off: Array<() => void> = []
  #focusWhenReady = false

  override connectedCallback (): void {
    super.connectedCallback()
    this.#watch()
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    for (const off of this.#off) off()
    this.#off = []
  }

  protected override willUpdate (changed: PropertyValues<this>): void {
    if (changed.has('session')) this.#watch()
  }

  protected override updated (): void {
    if (this.#focusWhenReady && this.session?.status === 'ready') {
      this.#focusWhenReady = false
      // Only if the visitor has not gone elsewhere meanwhile: the focus is still in the widget, or
      // it fell to the page's body when the loading view it was in went away.
      const root = this.getRootNode()
      const host = root instanceof ShadowRoot ? root.host : this
      const lost = document.activeElement === null || document.activeElement === document.body
      if (lost || host.matches(':focus-within')) void this.updateComplete.then(() => { this.focusFirst() })
    }
  }

  /**
   * Focus to where the visitor goes on: the form's first field, or the message box. While the
   * session still loads, the focus waits in the panel and moves there once it is ready.
   */
  focusFirst (): void {
    this.#focusWhenReady = this.session?.status !== 'ready'
    if (this.prechat) this.prechat.focus()
    else if (this.composer) this.composer.focus()
    else this.renderRoot.querySelector<HTMLElement>('button, [tabindex]')?.focus()
  }

  get #t (): WidgetTranslation {
    const root = this.getRootNode()
    return widgetLocale(root instanceof ShadowRoot ? root.host : this)
  }

  override render () {
    const s = this.session
    const t = this.#t
    if (!s || s.status === 'idle' || s.status === 'loading') return html`${this.#header(t)}<p class="center muted" role="status">${t.connecting}</p>`
    if (s.status === 'failed') {
      return html`${this.#header(t)}
        <div class="center" role="alert"><p>${t.loadFailed} ${s.loadError ? t.error(s.loadError) : ''}</p>
          <button class="primary" type="button" @click=${() => { void s.start().catch(() => undefined) }}>${t.tryAgain}</button></div>`
    }
    const support = s.conversation?.support
    const agentName = support?.agentName ?? t.agentFallbackName
    return html`
      ${this.#header(t)}
      <div part="banner" class="banner" role="status" ?hidden=${!s.banner}>${t.reconnecting}</div>
      ${s.needsPrechat
        ? html`<im-prechat-form exportparts="prechat" .t=${t} .fields=${s.options.prechat} @prechat-submit=${this.#prechat}></im-prechat-form>`
        : html`
          <im-message-list exportparts="messages, message, bubble" .t=${t} .items=${s.log?.items() ?? []} agentName=${agentName} ?typing=${s.agentTyping}
            intro=${this.#intro(t)} @message-retry=${(e: CustomEvent<{ cmid: string }>) => { s.retry(e.detail.cmid) }}></im-message-list>
          ${s.lastError ? html`<p class="toast" role="alert">${t.error(s.lastError)}</p>` : ''}
          ${support?.state === 'closed' ? this.#ended(t) : html`
            <im-chat-composer exportparts="composer, input, send-button" .t=${t} @compose-send=${(e: CustomEvent<{ text: string }>) => { s.send(e.detail.text) }}
              @compose-typing=${() => { s.typing() }}></im-chat-composer>`}`}
      <div class="sr-only" aria-live="polite" aria-atomic="true">${this.announcement}</div>
    `
  }

  #header (t: WidgetTranslation) {
    const s = this.session
    const support = s?.conversation?.support
    const active = support?.state === 'active'
    const name = support?.agentName ?? t.agentFallbackName
    const initials = name.split(/\s+/).map((w) => [...w][0] ?? '').join('').slice(0, 2).toUpperCase()
    return html`
      <header part="header">
        ${active ? html`<span class="avatar" part="avatar" role="img" aria-label=${t.agentAvatar(name)}>${initials}</span>` : ''}
        <div class="who">
          <h2 part="title">${active ? name : t.title}</h2>
          <p part="status" role="status">${this.#status(t)}</p>
        </div>
        ${s?.open ? html`<button type="button" @click=${() => { void s.endChat() }}>${t.endChat}</button>` : ''}
        <button type="button" aria-label=${t.minimize} title=${t.minimize}
          @click=${() => { this.dispatchEvent(new CustomEvent('panel-minimize', { bubbles: true })) }}>—</button>
      </header>`
  }

  #status (t: WidgetTranslation): string {
    const s = this.session
    const support = s?.conversation?.support
    if (!s || s.status !== 'ready') return ''
    if (s.connection === 'reconnecting' && s.banner) return t.reconnecting
    if (support?.state === 'active') return t.agentJoined(support.agentName ?? t.agentFallbackName)
    if (support?.state === 'waiting') {
      if (s.notice === 'offline') return t.offlineNotice
      return s.queue ? t.queuePosition(s.queue.position) : t.waitingForAgent
    }
    return ''
  }

  #intro (t: WidgetTranslation): string {
    const s = this.session
    if (!s?.conversation) return t.greeting
    if (s.conversation.support?.state === 'waiting' && s.notice === 'offline') return t.offlineNotice
    return ''
  }

  #ended (t: WidgetTranslation) {
    const s = this.session!
    return html`
      <div class="end">
        <p class="closed" role="status">${t.closed(s.conversation?.support?.closedReason)}</p>
        <im-rating-form exportparts="rating" .t=${t} ?rated=${s.rated}
          @rating-submit=${(e: CustomEvent<{ score: number, comment?: string }>) => { void s.rate(e.detail.score, e.detail.comment) }}></im-rating-form>
        <button class="primary" type="button" @click=${this.#newChat}>${t.newChat}</button>
      </div>`
  }

  #prechat = (e: CustomEvent<{ name?: string, email?: string }>): void => {
    this.session?.submitPrechat(e.detail)
    void this.updateComplete.then(() => { this.focusFirst() })
  }

  #newChat = (): void => {
    this.session?.newChat()
    void this.updateComplete.then(() => { this.focusFirst() })
  }

  #watch (): void {
    for (const off of this.#off) off()
    this.#off = []
    const s = this.session
    if (!s || !this.isConnected) return
    this.#off.push(
      s.on('change', () => { this.requestUpdate() }),
      s.on('message', (m) => {
        const text = m.body && 'text' in m.body ? m.body.text : this.#t.unsupportedMessage
        this.announcement = this.#t.announceMessage(s.conversation?.support?.agentName ?? this.#t.agentFallbackName, text)
      })
    )
    this.requestUpdate()
  }
}

declare global {
  interface HTMLElementTagNameMap { 'im-chat-panel': ChatPanel }
}
