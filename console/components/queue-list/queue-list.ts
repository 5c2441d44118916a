import { LitElement, html } from 'lit'
import { customElement, property, query } from 'lit/decorators.js'
import { ClockController } from '../../controllers/clock-controller.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import type { QueueItem } from '../../state/desk.js'
import { styles } from './queue-list.styles.js'

/**
 * @summary The waiting queue in the broker's order — visitors who wrote first, then those who have
 * written nothing yet (marked so) — with each visitor's wait time (ticking), a button to take the
 * chat, and "Show more" while more wait than are shown. [IM-SUPPORT-RANK] [IM-SUPPORT-PAGE]
 *
 * @event imc-claim - `{cid}` when the agent takes a waiting chat.
 * @event imc-queue-more - when the agent asks for the next page of the queue.
 *
 * @csspart base - the section.
 * @csspart item - one waiting visitor.
 * @csspart more - the "Show more" button.
 *
 * @cssproperty --imc-border - the separators.
 */
@customElement('imc-queue-list')
export class QueueList extends LitElement {
  static override styles = styles

  /** the chats shown, in queue order */
  @property({ attribute: false }) accessor items: QueueItem[] = []
  /** how many chats wait in all (more than `items` when the queue is long) */
  @property({ type: Number }) accessor total = 0
  /** the agent may take chats now (connected, with a free slot) */
  @property({ type: Boolean, attribute: 'can-claim' }) accessor canClaim = true

  @query('button.more') accessor moreButton: HTMLButtonElement | null = null

  readonly #l10n = new LocalizeController(this)
  readonly #clock = new ClockController(this)
  /** "Show more" had the keyboard: when it goes (nothing more to show), the last chat's button gets it */
  #moreHadFocus = false

  override render () {
    const t = this.#l10n.t
    const total = Math.max(this.total, this.items.length)
    const more = this.items.length < total
    return html`
      <section part="base" aria-labelledby="title">
        <h2 id="title">${t.queueTitle} <span class="count">${total > 0 ? t.queueCount(total) : ''}</span></h2>
        ${this.items.length === 0
          ? html`<p class="muted empty">${t.queueEmpty}</p>`
          : html`<ul>${this.items.map((item) => this.#item(item))}</ul>`}
        <p class="shown muted" aria-live="polite" ?hidden=${!more}>${more ? t.queueShown(this.items.length, total) : ''}</p>
        ${more
          ? html`<button type="button" part="more" class="more" @click=${() => { this.#moreHadFocus = true; emit(this, 'imc-queue-more', undefined) }}>${t.queueMore}</button>`
          : ''}
      </section>
    `
  }

  protected override updated (): void {
    if (!this.#moreHadFocus || this.moreButton) return
    this.#moreHadFocus = false
    const claims = this.renderRoot.querySelectorAll<HTMLButtonElement>('li button')
    claims[claims.length - 1]?.focus()
  }

  #item (item: QueueItem) {
    const t = this.#l10n.t
    const name = item.context.name?.trim() || item.visitor
    return html`
      <li part="item" data-cid=${item.cid} class=${item.wrote ? 'wrote' : 'silent'}>
        <div class="who">
          <span class="name">${name}</span>
          <span class="wait muted">${t.waitingFor(this.#l10n.duration(this.#clock.now - item.queuedAt))}</span>
          ${item.wrote ? '' : html`<span class="note muted">${t.noMessageYet}</span>`}
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
