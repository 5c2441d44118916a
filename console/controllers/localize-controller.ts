/**
 * `LocalizeController`: gives a component the current translation table and locale-aware
 * formatting, and re-renders it when the agent switches language.
 *
 *   readonly #l10n = new LocalizeController(this)
 *   render () { const t = this.#l10n.t; return html`<h2>${t.queueTitle}</h2>` }
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { locale, type LocaleCode, type Translation } from '../i18n/localize.js'

export class LocalizeController implements ReactiveController {
  readonly #host: ReactiveControllerHost
  #off: (() => void) | undefined

  constructor (host: ReactiveControllerHost) {
    this.#host = host
    host.addController(this)
  }

  hostConnected (): void {
    this.#off = locale.subscribe(() => { this.#host.requestUpdate() })
  }

  hostDisconnected (): void {
    this.#off?.()
    this.#off = undefined
  }

  get t (): Translation { return locale.t }

  get lang (): LocaleCode { return locale.code }

  /** `14:05` */
  time (ts: number): string {
    return new Intl.DateTimeFormat(locale.code, { hour: '2-digit', minute: '2-digit' }).format(ts)
  }

  /** `3 Jan 2026, 14:05` */
  dateTime (ts: number): string {
    return new Intl.DateTimeFormat(locale.code, { dateStyle: 'medium', timeStyle: 'short' }).format(ts)
  }

  duration (ms: number): string {
    return locale.t.duration(ms)
  }

  /** A localized text for an error: its catalogue code when known, else a network or generic text. */
  error (err: unknown): string {
    const t = locale.t
    const code = (err as { code?: unknown } | null)?.code
    if (typeof code === 'string' && code in t.errors) return t.errors[code as keyof Translation['errors']] ?? t.errorGeneric
    if (code === 'NETWORK' || err instanceof TypeError) return t.errorNetwork
    return t.errorGeneric
  }
}
