import { LitElement, html } from 'lit'
import { customElement } from 'lit/decorators.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import { LOCALES, isLocaleCode, translation } from '../../i18n/localize.js'
import { styles } from './locale-picker.styles.js'

/**
 * @summary The language switch; each language is named in itself.
 *
 * @event imc-locale-change - `{locale}` when the agent picks a language.
 *
 * @csspart select - the select box.
 */
@customElement('imc-locale-picker')
export class LocalePicker extends LitElement {
  static override styles = styles

  readonly #l10n = new LocalizeController(this)

  override render () {
    const t = this.#l10n.t
    return html`
      <label class="visually-hidden" for="locale">${t.languageLabel}</label>
      <select id="locale" part="select" @change=${this.#change}>
        ${LOCALES.map((code) => html`<option value=${code} lang=${code} ?selected=${code === this.#l10n.lang}>${translation(code).$name}</option>`)}
      </select>
    `
  }

  #change (event: Event): void {
    const value = (event.target as HTMLSelectElement).value
    if (isLocaleCode(value)) emit(this, 'imc-locale-change', { locale: value })
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-locale-picker': LocalePicker }
}
