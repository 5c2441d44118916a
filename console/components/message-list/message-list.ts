import { LitElement, html, type PropertyValues } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import type { Message } from '../../../shared/protocol.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import { textOf } from '../../state/chat.js'
import type { PendingView } from '../../state/desk.js'
import { styles } from './message-list.styles.js'

/**
 * @summary A chat's messages, oldest first, then the agent's own sends still on their way. Every
 * text is rendered through a Lit text binding — markup a visitor types is shown as the characters
 * it is, never parsed.
 *
 * @event imc-retry - `{cmid}` when the agent sends a failed message again.
 *
 * @csspart base - the scrolling log.
 * @csspart message - one message.
 * @csspart mine - a message of the agent.
 *
 * @cssproperty --imc-bubble-mine - the agent's bubbles.
 * @cssproperty --imc-bubble-theirs - the visitor's bubbles.
 */
@customElement('imc-message-list')
export class MessageList extends LitElement {
  static override styles = styles

  @property({ attribute: false }) accessor messages: Message[] = []
  @property({ attribute: false }) accessor pending: PendingView[] = []
  /** the agent's uid: its messages are "mine" */
  @property() accessor me = ''
  /** the visitor's uid, and the name to show for it */
  @property() accessor visitor = ''
  @property({ attribute: 'visitor-name' }) accessor visitorName = ''
  /** the visitor's read position: the agent's last message at or below it is "seen" */
  @property({ type: Number, attribute: 'peer-read-seq' }) accessor peerReadSeq = 0

  readonly #l10n = new LocalizeController(this)
  #stick = true

  override render () {
    const t = this.#l10n.t
    const seenSeq = [...this.messages].reverse().find((m) => m.from === this.me && m.seq <= this.peerReadSeq)?.seq
    return html`
      <div part="base" class="log" role="log" aria-live="polite" aria-label=${t.messagesLabel} tabindex="0" @scroll=${this.#scrolled}>
        ${this.messages.length === 0 && this.pending.length === 0 ? html`<p class="muted empty">${t.noMessages}</p>` : ''}
        ${this.messages.map((m) => this.#message(m, m.seq === seenSeq))}
        ${this.pending.map((p) => this.#pending(p))}
      </div>
    `
  }

  protected override updated (changed: PropertyValues<this>): void {
    if ((changed.has('messages') || changed.has('pending')) && this.#stick) {
      const log = this.renderRoot.querySelector('.log')
      if (log) log.scrollTop = log.scrollHeight
    }
  }

  #scrolled (event: Event): void {
    const log = event.currentTarget as HTMLElement
    this.#stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40
  }

  #author (from: string): string {
    const t = this.#l10n.t
    if (from === this.me) return t.you
    if (from === this.visitor) return this.visitorName || t.visitor
    return from
  }

  #message (m: Message, seen: boolean) {
    const t = this.#l10n.t
    const mine = m.from === this.me
    const text = textOf(m)
    return html`
      <article part="message ${mine ? 'mine' : ''}" class="msg ${mine ? 'mine' : m.from === this.visitor ? 'theirs' : 'other'}" data-seq=${m.seq}>
        <header><span class="author">${this.#author(m.from)}</span> <time class="muted">${this.#l10n.time(m.ts)}</time>
          ${m.editedAt ? html`<span class="muted">· ${t.edited}</span>` : ''}</header>
        ${m.recalledAt
          ? html`<p class="text recalled">${t.recalled}</p>`
          : html`<p class="text">${text ?? JSON.stringify(m.body)}</p>`}
        ${seen ? html`<footer class="seen">${t.seen}</footer>` : ''}
      </article>
    `
  }

  #pending (p: PendingView) {
    const t = this.#l10n.t
    const text = 'text' in p.body ? p.body.text : JSON.stringify(p.body)
    return html`
      <article part="message mine" class="msg mine pending ${p.failed ? 'failed' : ''}" data-cmid=${p.cmid}>
        <header><span class="author">${t.you}</span></header>
        <p class="text">${text}</p>
        <footer>${t.pendingStatus[p.failed ? 'failed' : p.status]}
          ${p.failed ? html`<button type="button" @click=${() => { emit(this, 'imc-retry', { cmid: p.cmid }) }}>${t.send}</button>` : ''}</footer>
      </article>
    `
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-message-list': MessageList }
}
