import { LitElement, html } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import type { AgentState, AgentStatus } from '../../../shared/protocol.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import { styles } from './agent-status.styles.js'

const STATUSES: readonly AgentStatus[] = ['online', 'away', 'offline']

/**
 * @summary The agent's status (online / away / offline), capacity (concurrent chats) and load.
 *
 * @event imc-status-change - `{status, capacity?}` when the agent picks a status or a capacity.
 *
 * @csspart base - the wrapper.
 * @csspart dot - the coloured status dot.
 *
 * @cssproperty --imc-online - the dot's colour while online.
 * @cssproperty --imc-away - the dot's colour while away.
 */
@customElement('imc-agent-status')
export class AgentStatusElement extends LitElement {
  static override styles = styles

  /** the agent's state; nothing is shown until it is known */
  @property({ attribute: false }) accessor agent: AgentState | undefined
  @property({ type: Boolean }) accessor disabled = false

  readonly #l10n = new LocalizeController(this)

  override render () {
    const t = this.#l10n.t
    const agent = this.agent
    if (!agent) return html``
    return html`
      <div part="base" class="base">
        <span part="dot" class="dot ${agent.status}" aria-hidden="true"></span>
        <label for="status">${t.statusLabel}</label>
        <select id="status" .value=${agent.status} ?disabled=${this.disabled} @change=${this.#status}>
          ${STATUSES.map((s) => html`<option value=${s} ?selected=${s === agent.status}>${t.status[s]}</option>`)}
        </select>
        <label for="capacity">${t.capacityLabel}</label>
        <input id="capacity" type="number" min="1" max="100" inputmode="numeric" .value=${String(agent.capacity)}
          ?disabled=${this.disabled} @change=${this.#capacity}>
        <span class="load" aria-live="polite">${t.load(agent.active.length, agent.capacity)}</span>
      </div>
    `
  }

  #status (event: Event): void {
    const status = (event.target as HTMLSelectElement).value as AgentStatus
    emit(this, 'imc-status-change', { status })
  }

  #capacity (event: Event): void {
    const input = event.target as HTMLInputElement
    const capacity = Math.round(Number(input.value))
    if (!this.agent || !Number.isFinite(capacity) || capacity < 1 || capacity > 100) {
      input.value = String(this.agent?.capacity ?? '')
      return
    }
    emit(this, 'imc-status-change', { status: this.agent.status, capacity })
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-agent-status': AgentStatusElement }
}
