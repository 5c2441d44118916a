import { LitElement, html } from 'lit'
import { customElement, property, query } from 'lit/decorators.js'
import type { Conversation, Message } from '../../../shared/protocol.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import type { CannedReply } from '../../state/api.js'
import { visitorName } from '../../state/chat.js'
import type { PastChatView, PendingView } from '../../state/desk.js'
import type { ChatComposer } from '../chat-composer/chat-composer.js'
import '../chat-composer/chat-composer.js'
import '../message-list/message-list.js'
import { styles } from './chat-view.styles.js'

/**
 * @summary The open chat: who it is with, its messages, the visitor's typing and read state, the
 * reply box with canned replies, and the transfer and close actions. A past chat of the same
 * visitor is shown here read-only.
 *
 * @event imc-transfer-request - `{cid}` when the agent wants to transfer the chat.
 * @event imc-close-chat - `{cid}` when the agent closes it.
 * @event imc-close-past - when the agent leaves a past chat.
 *
 * @csspart base - the whole view.
 * @csspart header - the title bar with the actions.
 * @csspart status - the typing / closed line.
 *
 * @cssproperty --imc-surface - the background.
 */
@customElement('imc-chat-view')
export class ChatView extends LitElement {
  static override styles = styles

  @property({ attribute: false }) accessor conv: Conversation | undefined
  @property({ attribute: false }) accessor messages: Message[] = []
  @property({ attribute: false }) accessor pending: PendingView[] = []
  @property({ attribute: false }) accessor canned: CannedReply[] = []
  /** a past chat to show read-only instead */
  @property({ attribute: false }) accessor viewing: PastChatView | undefined
  @property() accessor me = ''
  /** the agent owns this chat now: it may write, transfer and close */
  @property({ type: Boolean }) accessor mine = false
  @property({ type: Boolean }) accessor typing = false
  @property({ type: Boolean }) accessor online = true
  @property({ type: Number, attribute: 'peer-read-seq' }) accessor peerReadSeq = 0
  /** a localized line about how the chat ended, when it did */
  @property() accessor note = ''

  @query('imc-chat-composer') accessor composer: ChatComposer | null = null

  readonly #l10n = new LocalizeController(this)

  /** Puts the keyboard in the reply box (once it is rendered). */
  async focusComposer (): Promise<void> {
    await this.updateComplete
    await this.composer?.updateComplete
    this.composer?.focus()
  }

  override render () {
    const t = this.#l10n.t
    if (this.viewing) return this.#past(this.viewing)
    const conv = this.conv
    if (!conv?.support) return html`<p class="placeholder muted">${t.noChatSelected}</p>`
    const name = visitorName(conv)
    return html`
      <section part="base" class="base" aria-labelledby="chat-title">
        <header part="header">
          <h1 id="chat-title">${t.chatWith(name)}</h1>
          <div class="actions">
            <button type="button" ?hidden=${!this.mine} ?disabled=${!this.online}
              @click=${() => { emit(this, 'imc-transfer-request', { cid: conv.cid }) }}>${t.transfer}</button>
            <button type="button" class="danger" ?hidden=${!this.mine} ?disabled=${!this.online}
              @click=${() => { emit(this, 'imc-close-chat', { cid: conv.cid }) }}>${t.closeChat}</button>
          </div>
        </header>
        <imc-message-list .messages=${this.messages} .pending=${this.pending} me=${this.me}
          visitor=${conv.support.visitor} visitor-name=${name} peer-read-seq=${this.peerReadSeq}></imc-message-list>
        <p part="status" class="status" aria-live="polite">${this.#statusLine(name)}</p>
        ${this.mine
          ? html`<imc-chat-composer cid=${conv.cid} .canned=${this.canned}></imc-chat-composer>`
          : ''}
      </section>
    `
  }

  #statusLine (name: string): string {
    const t = this.#l10n.t
    if (this.note !== '') return this.note
    if (this.conv?.support?.state === 'waiting') return t.waitingState
    return this.typing && this.mine ? t.typing(name) : ''
  }

  #past (view: PastChatView) {
    const t = this.#l10n.t
    const conv = view.conv
    const support = conv.support
    return html`
      <section part="base" class="base past" aria-labelledby="past-title">
        <header part="header">
          <div>
            <h1 id="past-title">${t.pastChatTitle(this.#l10n.dateTime(conv.createdAt))}</h1>
            <p class="muted sub">${t.readOnly}${support?.rating ? ` · ${t.rating(support.rating.score)}` : ''}</p>
          </div>
          <div class="actions">
            <button type="button" @click=${() => { emit(this, 'imc-close-past', undefined) }}>${t.backToChat}</button>
          </div>
        </header>
        <imc-message-list .messages=${view.messages} me=${this.me} visitor=${support?.visitor ?? ''}
          visitor-name=${visitorName(conv)}></imc-message-list>
        <p part="status" class="status">${support?.closedReason ? t.closedBecause(t.closeReasons[support.closedReason]) : ''}</p>
      </section>
    `
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-chat-view': ChatView }
}
