import { LitElement, html } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import type { LinkState } from '../../controllers/connection-controller.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { styles } from './connection-banner.styles.js'

/**
 * @summary A banner while the console is not connected: connecting at first, reconnecting (with
 * the attempt number) after a loss. Hidden while connected.
 *
 * @csspart base - the banner.
 *
 * @cssproperty --imc-warning - the banner's background.
 */
@customElement('imc-connection-banner')
export class ConnectionBanner extends LitElement {
  static override styles = styles

  @property() accessor state: LinkState = 'idle'
  @property({ type: Number }) accessor attempt = 0

  readonly #l10n = new LocalizeController(this)

  override render () {
    const t = this.#l10n.t
    const text = this.state === 'reconnecting' || this.state === 'closed'
      ? (this.attempt > 0 ? t.reconnecting(this.attempt) : t.connectionLost)
      : this.state === 'connecting' ? t.connecting : ''
    return html`<div part="base" class="base ${this.state}" role="status" ?hidden=${text === ''}>${text}</div>`
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-connection-banner': ConnectionBanner }
}
