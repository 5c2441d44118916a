import { LitElement, html } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import type { Conversation, VisitorContext } from '../../../shared/protocol.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import { styles } from './visitor-panel.styles.js'

const FIELDS: ReadonlyArray<keyof VisitorContext> = ['name', 'email', 'url', 'referrer', 'locale', 'userAgent']

/** Only web addresses become links; anything else (`javascript:`…) stays text. */
function safeHref (value: string): string | undefined {
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined
  } catch {
    return undefined
  }
}

/**
 * @summary What the agent knows about the visitor of the open chat — the page context the widget
 * sent (name, email, page, referrer, language, browser) — and the visitor's past chats.
 *
 * @event imc-view-past - `{cid}` when the agent opens a past chat.
 *
 * @csspart base - the panel.
 * @csspart context - the list of details.
 * @csspart past - the list of past chats.
 */
@customElement('imc-visitor-panel')
export class VisitorPanel extends LitElement {
  static override styles = styles

  @property({ attribute: false }) accessor conv: Conversation | undefined
  @property({ attribute: false }) accessor past: Conversation[] = []
  /** the past chat shown now, if any */
  @property() accessor viewing = ''

  readonly #l10n = new LocalizeController(this)

  override render () {
    const t = this.#l10n.t
    const support = this.conv?.support
    if (!support) return html``
    const shown = FIELDS.filter((f) => (support.context[f] ?? '').trim() !== '')
    return html`
      <aside part="base" aria-labelledby="visitor">
        <h2 id="visitor">${t.visitorTitle}</h2>
        <p class="uid muted">${support.visitor}</p>
        ${shown.length === 0
          ? html`<p class="muted">${t.noContext}</p>`
          : html`<dl part="context">${shown.map((f) => this.#field(f, support.context[f] ?? ''))}</dl>`}
        <h2 id="past">${t.pastChats}</h2>
        ${this.past.length === 0
          ? html`<p class="muted">${t.noPastChats}</p>`
          : html`<ul part="past" aria-labelledby="past">${this.past.map((c) => this.#pastItem(c))}</ul>`}
      </aside>
    `
  }

  #field (field: keyof VisitorContext, value: string) {
    const t = this.#l10n.t
    const href = field === 'url' || field === 'referrer' ? safeHref(value) : undefined
    return html`
      <div class="field" data-field=${field}>
        <dt>${t.contextFields[field]}</dt>
        <dd>${href ? html`<a href=${href} target="_blank" rel="noopener noreferrer">${value}</a>` : value}</dd>
      </div>
    `
  }

  #pastItem (conv: Conversation) {
    const t = this.#l10n.t
    const state = conv.support?.state ?? 'closed'
    const current = conv.cid === this.viewing
    return html`
      <li>
        <button type="button" class=${current ? 'current' : ''} aria-current=${current ? 'true' : 'false'} data-cid=${conv.cid}
          @click=${() => { emit(this, 'imc-view-past', { cid: conv.cid }) }}>
          ${t.pastChatLabel(this.#l10n.dateTime(conv.createdAt), t.chatStates[state])}
        </button>
      </li>
    `
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-visitor-panel': VisitorPanel }
}
