import { LitElement, html, type PropertyValues } from 'lit'
import { customElement, property, query } from 'lit/decorators.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { emit } from '../../events.js'
import type { CannedReply } from '../../state/api.js'
import { styles } from './chat-composer.styles.js'

/** `typing: on` is repeated this often while the agent types [IM-CMD-TYPING] */
const TYPING_RENEW_MS = 3000
/** and turned off after this long without a key */
const TYPING_IDLE_MS = 4000

/**
 * @summary The reply box: Enter sends, Shift+Enter starts a new line; a canned reply can be
 * inserted from a list; typing is announced to the visitor while the agent types.
 *
 * @event imc-send - `{cid, text}` when the agent sends.
 * @event imc-typing - `{cid, on}` when the agent starts or stops typing.
 *
 * @csspart base - the form.
 * @csspart textarea - the text field.
 *
 * @cssproperty --imc-accent - the send button's colour.
 */
@customElement('imc-chat-composer')
export class ChatComposer extends LitElement {
  static override styles = styles

  @property() accessor cid = ''
  @property({ attribute: false }) accessor canned: CannedReply[] = []
  @property({ type: Boolean }) accessor disabled = false

  @query('textarea') accessor textarea!: HTMLTextAreaElement

  readonly #l10n = new LocalizeController(this)
  #typingSentAt = 0
  #idle: ReturnType<typeof setTimeout> | undefined

  override render () {
    const t = this.#l10n.t
    return html`
      <form part="base" @submit=${this.#submit}>
        ${this.canned.length === 0 ? '' : html`
          <label class="visually-hidden" for="canned">${t.cannedLabel}</label>
          <select id="canned" @change=${this.#insertCanned} ?disabled=${this.disabled}>
            <option value="">${t.cannedNone}</option>
            ${this.canned.map((r) => html`<option value=${r.id}>${r.title}</option>`)}
          </select>`}
        <div class="row">
          <label class="visually-hidden" for="text">${t.composerLabel}</label>
          <textarea id="text" part="textarea" rows="3" placeholder=${t.composerPlaceholder} aria-describedby="hint"
            ?disabled=${this.disabled} @keydown=${this.#keydown} @input=${this.#input} @blur=${() => { this.#stopTyping() }}></textarea>
          <button class="primary" type="submit" ?disabled=${this.disabled}>${t.send}</button>
        </div>
        <p id="hint" class="hint muted">${t.composerHint}</p>
      </form>
    `
  }

  protected override updated (changed: PropertyValues<this>): void {
    // Another chat: its own empty box, and no typing left on for the previous one.
    if (changed.has('cid') && changed.get('cid') !== undefined) {
      this.#stopTyping(changed.get('cid'))
      if (this.textarea) this.textarea.value = ''
    }
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    this.#stopTyping()
  }

  override focus (): void {
    this.textarea?.focus()
  }

  #keydown (event: KeyboardEvent): void {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return
    event.preventDefault()
    this.#send()
  }

  #submit (event: SubmitEvent): void {
    event.preventDefault()
    this.#send()
  }

  #send (): void {
    const text = this.textarea.value
    if (text.trim() === '' || this.disabled) return
    emit(this, 'imc-send', { cid: this.cid, text })
    this.textarea.value = ''
    this.#typingSentAt = 0
    clearTimeout(this.#idle)
    this.textarea.focus()
  }

  #input (): void {
    const now = Date.now()
    if (this.textarea.value.trim() === '') { this.#stopTyping(); return }
    if (now - this.#typingSentAt > TYPING_RENEW_MS) {
      this.#typingSentAt = now
      emit(this, 'imc-typing', { cid: this.cid, on: true })
    }
    clearTimeout(this.#idle)
    this.#idle = setTimeout(() => { this.#stopTyping() }, TYPING_IDLE_MS)
  }

  #stopTyping (cid = this.cid): void {
    clearTimeout(this.#idle)
    if (this.#typingSentAt === 0) return
    this.#typingSentAt = 0
    emit(this, 'imc-typing', { cid, on: false })
  }

  #insertCanned (event: Event): void {
    const select = event.target as HTMLSelectElement
    const reply = this.canned.find((r) => r.id === select.value)
    select.value = ''
    if (!reply) return
    const area = this.textarea
    const before = area.value.slice(0, area.selectionStart)
    const after = area.value.slice(area.selectionEnd)
    area.value = `${before}${reply.text}${after}`
    const caret = before.length + reply.text.length
    area.focus()
    area.setSelectionRange(caret, caret)
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-chat-composer': ChatComposer }
}
