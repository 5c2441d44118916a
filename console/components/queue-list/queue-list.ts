import { LitElement, html } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { ClockController } from '../../controllers/clock-controller.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import type { QueueItem } from '../../state/desk.js'
import { styles } from './queue-list.styles.js'

/**
 * @summary The waiting queue, oldest first, with each visitor's wait time (ticking) and a button
 * to take the chat.
 *
 * @event imc-claim - `{cid}` when the agent takes a waiting chat.
 *
 * @csspart base - the section.
 * @csspart item - one waiting visitor.
 *
 * @cssproperty --imc-border - the separators.
 */
@customElement('imc-queue-list')
export class QueueList extends LitElement {
  static override styles = styles

  @property({ attribute: false }) accessor items: QueueItem[] = []
  /** the agent may take chats now (connected, with a free slot) */
  @property({ type: Boolean, attribute: 'can-claim' }) accessor canClaim = true

  readonly #l10n = new LocalizeController(this)
  readonly #clock = new ClockController(this)

  override render () {
    const t = this.#l10n.t
    return html`
      <section part="base" aria-labelledby="title">
        <h2 id="title">${t.queueTitle} <span class="count">${this.items.length > 0 ? t.queueCount(this.items.length) : ''}</span></h2>
        ${this.items.length === 0
          ? html`<p class="muted empty">${t.queueEmpty}</p>`
          : html`<ul>${this.items.map((item) => this.#item(item))}</ul>`}
      </section>
    `
  }

  #item (item: QueueItem) {
    const t = this.#l10n.t
    const name = item.context.name?.trim() || item.visitor
    return html`
      <li part="item" data-cid=${item.cid}>
        <div class="who">
          <span class="name">${name}</span>
          <span class="wait muted">${t.waitingFor(this.#l10n.duration(this.#clock.now - item.queuedAt))}</span>
          ${item.context.url ? html`<span class="page muted">${item.context.url}</span>` : ''}
        </div>
        <button type="button" ?disabled=${!this.canClaim} aria-label=${t.claimLabel(name)}
          @click=${() => { emit(this, 'imc-claim', { cid: item.cid }) }}>${t.claim}</button>
      </li>
    `
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-queue-list': QueueList }
}
