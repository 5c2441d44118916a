import { LitElement, html } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import type { AgentState } from '../../../shared/protocol.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import { styles } from './transfer-dialog.styles.js'

const QUEUE = ''

/**
 * @summary Where to transfer a chat: another agent with a free slot, or back to the queue. A
 * native modal `<dialog>`: it keeps the focus inside, and Escape cancels.
 *
 * @event imc-transfer - `{cid, to?}` when the agent confirms (`to` absent: back to the queue).
 *
 * @csspart dialog - the dialog box.
 */
@customElement('imc-transfer-dialog')
export class TransferDialog extends LitElement {
  static override styles = styles

  /** agents the chat can go to */
  @property({ attribute: false }) accessor agents: AgentState[] = []

  @state() accessor cid = ''
  @state() accessor choice = QUEUE
  @query('dialog') accessor dialog: HTMLDialogElement | null = null

  readonly #l10n = new LocalizeController(this)

  /** Opens the dialog for `cid`; the first agent is preselected. */
  async open (cid: string): Promise<void> {
    this.cid = cid
    this.choice = this.agents[0]?.uid ?? QUEUE
    await this.updateComplete
    this.dialog?.showModal()
  }

  close (): void {
    this.dialog?.close()
  }

  override render () {
    const t = this.#l10n.t
    return html`
      <dialog part="dialog" aria-labelledby="title" aria-describedby="intro">
        <form method="dialog" @submit=${this.#submit}>
          <h1 id="title">${t.transferTitle}</h1>
          <p id="intro" class="muted">${t.transferIntro}</p>
          <fieldset>
            <legend class="visually-hidden">${t.transferTitle}</legend>
            ${this.agents.length === 0 ? html`<p class="muted">${t.noAgentsAvailable}</p>` : ''}
            ${this.agents.map((a) => this.#option(a.uid, t.transferToAgent(a.uid, a.active.length, a.capacity)))}
            ${this.#option(QUEUE, t.transferToQueue)}
          </fieldset>
          <div class="buttons">
            <button type="button" @click=${() => { this.close() }}>${t.cancel}</button>
            <button type="submit" class="primary">${t.confirmTransfer}</button>
          </div>
        </form>
      </dialog>
    `
  }

  #option (value: string, label: string) {
    return html`
      <label class="option">
        <input type="radio" name="to" .value=${value} .checked=${this.choice === value}
          @change=${() => { this.choice = value }}>
        <span>${label}</span>
      </label>
    `
  }

  #submit (event: SubmitEvent): void {
    event.preventDefault()
    const to = this.choice === QUEUE ? undefined : this.choice
    emit(this, 'imc-transfer', { cid: this.cid, ...(to !== undefined ? { to } : {}) })
    this.close()
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-transfer-dialog': TransferDialog }
}
