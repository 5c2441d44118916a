import { LitElement, html } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import { styles } from './login-form.styles.js'

/**
 * @summary The sign-in form: user id and password.
 *
 * @event imc-login - `{uid, password}` when the agent submits the form.
 *
 * @csspart base - the form's card.
 *
 * @cssproperty --imc-accent - the sign-in button's colour.
 */
@customElement('imc-login-form')
export class LoginForm extends LitElement {
  static override styles = styles

  /** a sign-in is under way: the button is disabled */
  @property({ type: Boolean }) accessor busy = false
  /** a localized error to show above the button */
  @property() accessor error = ''

  readonly #l10n = new LocalizeController(this)

  override render () {
    const t = this.#l10n.t
    return html`
      <form part="base" @submit=${this.#submit} novalidate>
        <h1>${t.loginTitle}</h1>
        <p class="muted">${t.loginIntro}</p>
        <label for="uid">${t.uidLabel}</label>
        <input id="uid" name="uid" autocomplete="username" required autofocus spellcheck="false" autocapitalize="off">
        <label for="password">${t.passwordLabel}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <p class="error" role="alert" ?hidden=${this.error === ''}>${this.error}</p>
        <button class="primary" type="submit" ?disabled=${this.busy}>${this.busy ? t.loggingIn : t.loginButton}</button>
      </form>
    `
  }

  #submit (event: SubmitEvent): void {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const data = new FormData(form)
    const uid = String(data.get('uid') ?? '').trim()
    const password = String(data.get('password') ?? '')
    if (uid === '' || password === '') {
      form.querySelector<HTMLInputElement>(uid === '' ? '#uid' : '#password')?.focus()
      return
    }
    emit(this, 'imc-login', { uid, password })
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-login-form': LoginForm }
}
