import { LitElement, css, html, type PropertyValues } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { repeat } from 'lit/directives/repeat.js'
import type { ChatItem } from '../../../engine/chat-log.js'
import type { WidgetTranslation } from '../../../i18n/translation.js'
import { sharedStyles } from '../../styles/shared.styles.js'

/**
 * @summary The chat's messages, oldest first, with a separator for each day, then the visitor's own
 * sends on their way. Every text goes through a Lit text binding: markup someone types is shown as
 * the characters it is, never parsed. Own messages show their state — sending, sent, read — or a
 * red "!" with a retry button when the send failed.
 *
 * @event message-retry - `{cmid}` the visitor sends a failed message again.
 *
 * @csspart messages - the scrolling list; @csspart message - one message; @csspart bubble - its bubble.
 */
@customElement('im-message-list')
export class MessageList extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; flex: 1; min-height: 0; }
    .scroll { height: 100%; overflow-y: auto; padding: 0.75rem; display: flex; flex-direction: column; gap: 0.35rem; }
    ol { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 0.35rem; }
    .day { align-self: center; font-size: 0.78rem; color: var(--_muted); margin: 0.4rem 0; }
    .msg { display: flex; flex-direction: column; max-width: 80%; align-items: flex-start; }
    .msg.mine { align-self: flex-end; align-items: flex-end; }
    .bubble {
      padding: 0.45rem 0.75rem; border-radius: 14px; white-space: pre-wrap; overflow-wrap: anywhere;
      background: var(--_agent-bubble); color: var(--_agent-text);
    }
    .mine .bubble { background: var(--_visitor-bubble); color: var(--_visitor-text); }
    .recalled .bubble { font-style: italic; background: transparent; color: var(--_muted); border: 1px dashed var(--_border); }
    .meta { font-size: 0.75rem; color: var(--_muted); display: flex; gap: 0.35rem; align-items: center; margin-top: 0.1rem; }
    .failed .meta { color: var(--_error); }
    .bang {
      display: inline-grid; place-items: center; width: 1.1rem; height: 1.1rem; border-radius: 50%;
      background: var(--_error); color: #fff; font-weight: 700; font-size: 0.75rem;
    }
    .typing { color: var(--_muted); font-size: 0.85rem; font-style: italic; }
    .intro { color: var(--_muted); text-align: center; margin: 0.5rem 0; }
  `]

  @property({ attribute: false }) accessor t!: WidgetTranslation
  @property({ attribute: false }) accessor items: ChatItem[] = []
  /** what stands for the other side's name */
  @property() accessor agentName = ''
  @property({ type: Boolean }) accessor typing = false
  /** a line shown above the messages (a greeting or a notice) */
  @property() accessor intro = ''

  #stick = true

  override render () {
    const t = this.t
    let lastDay = ''
    return html`
      <div class="scroll" part="messages" tabindex="0" aria-label=${t.messagesLabel} @scroll=${this.#scrolled}>
        ${this.intro ? html`<p class="intro">${this.intro}</p>` : ''}
        <ol aria-label=${t.messagesLabel}>
          ${repeat(this.items, (item) => item.key, (item) => {
            const day = new Date(item.ts).toDateString()
            const separator = day !== lastDay ? html`<li class="day" role="separator">${this.#day(item.ts)}</li>` : ''
            lastDay = day
            return html`${separator}${this.#message(item)}`
          })}
        </ol>
        ${this.typing ? html`<p class="typing">${t.agentTyping(this.agentName)}</p>` : ''}
      </div>
    `
  }

  protected override updated (changed: PropertyValues<this>): void {
    const mineAdded = changed.has('items') && this.items.at(-1)?.mine === true && this.items.at(-1)?.state === 'sending'
    if ((changed.has('items') || changed.has('typing')) && (this.#stick || mineAdded)) {
      const scroll = this.renderRoot.querySelector('.scroll')
      if (scroll) scroll.scrollTop = scroll.scrollHeight
    }
  }

  #scrolled (event: Event): void {
    const el = event.currentTarget as HTMLElement
    this.#stick = el.scrollHeight - el.scrollTop - el.clientHeight < 40
  }

  #message (item: ChatItem) {
    const t = this.t
    const who = item.mine ? t.you : this.agentName
    const body = item.recalled ? t.recalled : item.text ?? t.unsupportedMessage
    const time = new Intl.DateTimeFormat(t.$code, { hour: '2-digit', minute: '2-digit' }).format(item.ts)
    const classes = ['msg', item.mine ? 'mine' : 'theirs', item.recalled ? 'recalled' : '', item.state === 'failed' ? 'failed' : ''].join(' ')
    return html`
      <li class=${classes} part="message" data-seq=${item.seq ?? ''} data-state=${item.state ?? ''}>
        <span class="sr-only">${who}:</span>
        <div class="bubble" part="bubble">${body}</div>
        <div class="meta">
          <time datetime=${new Date(item.ts).toISOString()}>${time}</time>
          ${item.state ? this.#state(item) : ''}
        </div>
      </li>`
  }

  #state (item: ChatItem) {
    const t = this.t
    if (item.state === 'failed') {
      return html`<span class="bang" aria-hidden="true">!</span><span>${t.failed}${item.error ? ` — ${t.error(item.error)}` : ''}</span>
        <button class="link" type="button" @click=${() => { this.dispatchEvent(new CustomEvent('message-retry', { detail: { cmid: item.cmid } })) }}>${t.retry}</button>`
    }
    return html`<span class="state">${item.state === 'sending' ? t.sending : item.state === 'read' ? t.read : t.sent}</span>`
  }

  #day (ts: number): string {
    const day = new Date(ts)
    const today = new Date()
    const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1)
    if (day.toDateString() === today.toDateString()) return this.t.today
    if (day.toDateString() === yesterday.toDateString()) return this.t.yesterday
    return new Intl.DateTimeFormat(this.t.$code, { dateStyle: 'medium' }).format(ts)
  }
}

declare global {
  interface HTMLElementTagNameMap { 'im-message-list': MessageList }
}
