import { LitElement, css, html } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import type { WidgetTranslation } from '../../../i18n/translation.js'
import { sharedStyles } from '../../styles/shared.styles.js'

/**
 * @summary After a chat ends: 1–5 stars (native radio buttons, so arrow keys move between them)
 * and an optional comment; then a thank-you.
 *
 * @event rating-submit - `{score, comment?}`.
 * @csspart rating - the form.
 */
@customElement('im-rating-form')
export class RatingForm extends LitElement {
  static override styles = [sharedStyles, css`
    form { display: grid; gap: 0.6rem; padding: 0.75rem 1rem; border-top: 1px solid var(--_border); }
    fieldset { border: 0; padding: 0; margin: 0; display: flex; gap: 0.25rem; }
    legend { font-weight: 600; margin-bottom: 0.35rem; }
    .star input { position: absolute; opacity: 0; width: 1px; height: 1px; }
    .star span { font-size: 1.6rem; line-height: 1; color: var(--_muted); cursor: pointer; }
    .star.on span { color: #d97706; }
    .star input:focus-visible + span { outline: 3px solid var(--_accent); outline-offset: 2px; border-radius: 4px; }
  `]

  @property({ attribute: false }) accessor t!: WidgetTranslation
  @property({ type: Boolean }) accessor rated = false
  @state() accessor score = 0

  override render () {
    const t = this.t
    if (this.rated) return html`<p class="muted" part="rating" role="status">${t.ratingThanks}</p>`
    return html`
      <form part="rating" @submit=${this.#submit}>
        <fieldset>
          <legend>${t.ratePrompt}</legend>
          ${[1, 2, 3, 4, 5].map((n) => html`
            <label class="star ${n <= this.score ? 'on' : ''}">
              <input type="radio" name="score" .value=${String(n)} aria-label=${t.rateStars(n)} @change=${() => { this.score = n }}>
              <span aria-hidden="true">★</span>
            </label>`)}
        </fieldset>
        <label>${t.commentLabel}<textarea name="comment" rows="2" maxlength="2000"></textarea></label>
        <button class="primary" type="submit" ?disabled=${this.score === 0}>${t.submitRating}</button>
      </form>
    `
  }

  #submit (e: SubmitEvent): void {
    e.preventDefault()
    if (this.score === 0) return
    const comment = ((e.target as HTMLFormElement).elements.namedItem('comment') as HTMLTextAreaElement).value.trim()
    this.dispatchEvent(new CustomEvent('rating-submit', { detail: { score: this.score, ...(comment ? { comment } : {}) } }))
  }
}

declare global {
  interface HTMLElementTagNameMap { 'im-rating-form': RatingForm }
}
