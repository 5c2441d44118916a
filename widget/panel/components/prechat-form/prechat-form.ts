import { LitElement, css, html } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import type { Profile } from '../../../engine/widget-session.js'
import type { WidgetTranslation } from '../../../i18n/translation.js'
import { sharedStyles } from '../../styles/shared.styles.js'

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

/**
 * @summary The optional pre-chat form: the fields the site asked for (name, email), all required,
 * checked here with messages tied to their field (`aria-describedby`).
 *
 * @event prechat-submit - `{name?, email?}`.
 * @csspart prechat - the form.
 */
@customElement('im-prechat-form')
export class PrechatForm extends LitElement {
  static override styles = [sharedStyles, css`
    form { display: grid; gap: 0.75rem; padding: 1rem; }
    label { display: grid; gap: 0.25rem; font-weight: 600; }
    .error { font-weight: 400; font-size: 0.85rem; }
  `]

  @property({ attribute: false }) accessor t!: WidgetTranslation
  @property({ attribute: false }) accessor fields: ReadonlyArray<'name' | 'email'> = []
  @state() accessor errors: Partial<Record<'name' | 'email', string>> = {}

  override render () {
    const t = this.t
    const field = (name: 'name' | 'email', label: string, type: string, autocomplete: string) => html`
      <label>${label}
        <input name=${name} type=${type} autocomplete=${autocomplete} required maxlength=${name === 'name' ? 200 : 320}
          aria-invalid=${this.errors[name] ? 'true' : 'false'} aria-describedby="${name}-error">
        <span class="error" id="${name}-error">${this.errors[name] ?? ''}</span>
      </label>`
    return html`
      <form part="prechat" novalidate @submit=${this.#submit}>
        <p>${t.prechatIntro}</p>
        ${this.fields.includes('name') ? field('name', t.nameLabel, 'text', 'name') : ''}
        ${this.fields.includes('email') ? field('email', t.emailLabel, 'email', 'email') : ''}
        <button class="primary" type="submit">${t.startChat}</button>
      </form>
    `
  }

  override focus (): void {
    this.renderRoot.querySelector('input')?.focus()
  }

  #submit (e: SubmitEvent): void {
    e.preventDefault()
    const form = e.target as HTMLFormElement
    const value = (name: string): string => ((form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? '').trim()
    const profile: Profile = {}
    const errors: Partial<Record<'name' | 'email', string>> = {}
    if (this.fields.includes('name')) {
      if (value('name') === '') errors.name = this.t.required
      else profile.name = value('name')
    }
    if (this.fields.includes('email')) {
      if (!EMAIL.test(value('email'))) errors.email = value('email') === '' ? this.t.required : this.t.emailInvalid
      else profile.email = value('email')
    }
    this.errors = errors
    const first = Object.keys(errors)[0]
    if (first) {
      void this.updateComplete.then(() => { this.renderRoot.querySelector<HTMLInputElement>(`input[name=${first}]`)?.focus() })
      return
    }
    this.dispatchEvent(new CustomEvent('prechat-submit', { detail: profile }))
  }
}

declare global {
  interface HTMLElementTagNameMap { 'im-prechat-form': PrechatForm }
}
