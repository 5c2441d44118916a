import { LitElement, html } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import { styles } from './chat-list.styles.js'

/** One row of the list, prepared by the console from the desk. */
export interface ChatListItem {
  cid: string
  name: string
  /** the last message's text (shown as text) */
  preview: string
  unread: number
  /** assigned and not opened yet */
  fresh: boolean
  state: 'waiting' | 'active' | 'closed'
  /** a localized line for ended chats: why it closed, or where it went */
  note?: string
}

/**
 * @summary The agent's chats: the active ones with unread counts, then the recently closed.
 *
 * @event imc-select - `{cid}` when the agent opens a chat.
 *
 * @csspart base - the section.
 * @csspart item - one chat's button.
 * @csspart badge - an unread count.
 *
 * @cssproperty --imc-selected - the background of the open chat.
 * @cssproperty --imc-badge - the unread badge's colour.
 */
@customElement('imc-chat-list')
export class ChatList extends LitElement {
  static override styles = styles

  @property({ attribute: false }) accessor active: ChatListItem[] = []
  @property({ attribute: false }) accessor recent: ChatListItem[] = []
  @property() accessor selected = ''

  readonly #l10n = new LocalizeController(this)

  override render () {
    const t = this.#l10n.t
    return html`
      <section part="base" aria-labelledby="mine">
        <h2 id="mine">${t.myChatsTitle}</h2>
        ${this.active.length === 0
          ? html`<p class="muted empty">${t.noChats}</p>`
          : html`<ul class="active">${this.active.map((item) => this.#item(item))}</ul>`}
      </section>
      ${this.recent.length === 0 ? '' : html`
        <section aria-labelledby="recent">
          <h2 id="recent">${t.recentTitle}</h2>
          <ul class="recent">${this.recent.map((item) => this.#item(item))}</ul>
        </section>`}
    `
  }

  #item (item: ChatListItem) {
    const t = this.#l10n.t
    const current = item.cid === this.selected
    return html`
      <li>
        <button type="button" part="item" class="item ${current ? 'current' : ''} ${item.state}" data-cid=${item.cid}
          aria-current=${current ? 'true' : 'false'} @click=${() => { emit(this, 'imc-select', { cid: item.cid }) }}>
          <span class="line">
            <span class="name">${item.name}</span>
            ${item.fresh ? html`<span class="new">${t.newChat}</span>` : ''}
            ${item.unread > 0 ? html`<span part="badge" class="badge" aria-label=${t.unread(item.unread)}>${item.unread}</span>` : ''}
          </span>
          <span class="preview muted">${item.note ?? item.preview}</span>
        </button>
      </li>
    `
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-chat-list': ChatList }
}
