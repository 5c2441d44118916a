import { LitElement, css, html } from 'lit'
import { customElement, property, query } from 'lit/decorators.js'
import type { WidgetTranslation } from '../../../i18n/translation.js'
import { sharedStyles } from '../../styles/shared.styles.js'

/**
 * @summary The message box: Enter sends, Shift+Enter starts a new line. Works offline too — the
 * session keeps what is sent until the server has stored it.
 *
 * @event compose-send - `{text}` the visitor sends a message.
 * @event compose-typing - the visitor typed.
 *
 * @csspart composer - the form; @csspart input - the text box; @csspart send-button - the button.
 */
@customElement('im-chat-composer')
export class ChatComposer extends LitElement {
  static override styles = [sharedStyles, css`
    form { display: flex; gap: 0.5rem; align-items: flex-end; padding: 0.6rem; border-top: 1px solid var(--_border); }
    textarea { resize: none; max-height: 8rem; min-height: 2.5rem; }
    button { flex: none; }
  `]

  @property({ attribute: false }) accessor t!: WidgetTranslation
  @property({ type: Boolean }) accessor disabled = false
  @query('textarea') accessor input!: HTMLTextAreaElement

  override render () {
    const t = this.t
    return html`
      <form part="composer" @submit=${this.#submit}>
        <label class="sr-only" for="input">${t.messageLabel}</label>
        <textarea part="input" id="input" rows="1" maxlength="10000" placeholder=${t.placeholder}
          ?disabled=${this.disabled} @keydown=${this.#keydown} @input=${this.#typed}></textarea>
        <button part="send-button" class="primary" type="submit" ?disabled=${this.disabled}>${t.send}</button>
      </form>
    `
  }

  override focus (): void {
    this.input?.focus()
  }

  #keydown (e: KeyboardEvent): void {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      this.#send()
    }
  }

  #typed (): void {
    this.input.style.height = 'auto'
    this.input.style.height = `${this.input.scrollHeight}px`
    this.dispatchEvent(new CustomEvent('compose-typing'))
  }

  #submit (e: Event): void {
    e.preventDefault()
    this.#send()
  }

  #send (): void {
    const text = this.input.value
    if (text.trim() === '') return
    this.input.value = ''
    this.input.style.height = 'auto'
    this.dispatchEvent(new CustomEvent('compose-send', { detail: { text } }))
    this.input.focus()
  }
}

declare global {
  interface HTMLElementTagNameMap { 'im-chat-composer': ChatComposer }
}
