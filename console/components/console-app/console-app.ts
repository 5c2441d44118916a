import { LitElement, html } from 'lit'
import { customElement, state } from 'lit/decorators.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import type { ConsoleEventMap } from '../../events.js'
import { locale } from '../../i18n/localize.js'
import { ConsoleApi } from '../../state/api.js'
import { clearSession, loadSession, newSession, type Session } from '../../state/session.js'
import '../locale-picker/locale-picker.js'
import '../login-form/login-form.js'
import { styles } from './console-app.styles.js'

/**
 * The signed-in part — `<imc-agent-desk>` with the desk's components, the client library and
 * MQTT.js — is a chunk of its own (scripts/build-console.ts splits on this `import()`): the
 * sign-in page loads without it, and it comes once the agent has a session.
 */
let deskModule: Promise<unknown> | undefined
const loadDesk = async (): Promise<unknown> => {
  deskModule ??= import('../agent-desk/agent-desk.js').catch((err: unknown) => { deskModule = undefined; throw err })
  return await deskModule
}

/**
 * @summary The agent console: the sign-in page, then `<imc-agent-desk>` for the signed-in agent
 * (loaded on demand). It owns the session (kept in sessionStorage, so a reload stays signed in)
 * and the page's language.
 *
 * @csspart header - the desk's top bar (exported from `<imc-agent-desk>`).
 * @csspart desk - the desk's three-column working area (exported from `<imc-agent-desk>`).
 *
 * @cssproperty --imc-header - the top bar's background.
 * @cssproperty --imc-page - the page background.
 */
@customElement('imc-console-app')
export class ConsoleApp extends LitElement {
  static override styles = styles

  @state() accessor session: Session | undefined
  /** the desk's chunk is loaded (`<imc-agent-desk>` is defined) */
  @state() accessor deskLoaded = false
  @state() accessor loginBusy = false
  @state() accessor loginError = ''

  readonly #l10n = new LocalizeController(this)

  constructor () {
    super()
    const on = <K extends keyof ConsoleEventMap>(name: K, handler: (detail: ConsoleEventMap[K]) => void): void => {
      this.addEventListener(name, (event) => { handler((event as CustomEvent<ConsoleEventMap[K]>).detail) })
    }
    on('imc-login', (d) => { void this.#login(d.uid, d.password) })
    on('imc-signed-out', (d) => { this.#signedOut(d.ended) })
    on('imc-locale-change', (d) => { locale.set(d.locale) })
  }

  override connectedCallback (): void {
    super.connectedCallback()
    const session = loadSession()
    if (session) void this.#start(session)
  }

  protected override updated (): void {
    // Signed in, the desk keeps the title (with its count of what waits for the agent).
    if (!this.session) document.title = this.#l10n.t.appTitle
  }

  override render () {
    if (this.session && this.deskLoaded) {
      return html`<imc-agent-desk exportparts="header, desk" .session=${this.session}></imc-agent-desk>`
    }
    if (this.session) return html`<div class="login-page" aria-busy="true"></div>`
    return html`
      <div class="login-page">
        <div class="login-top"><imc-locale-picker></imc-locale-picker></div>
        <imc-login-form ?busy=${this.loginBusy} error=${this.loginError}></imc-login-form>
      </div>`
  }

  async #login (uid: string, password: string): Promise<void> {
    const t = this.#l10n.t
    this.loginBusy = true
    this.loginError = ''
    try {
      const answer = await new ConsoleApi(location.origin).login(uid, password)
      if (answer.role !== 'agent' && answer.role !== 'admin') {
        this.loginError = t.notAnAgent
        return
      }
      await this.#start(newSession(answer))
    } catch (err) {
      this.loginError = this.#l10n.error(err)
    } finally {
      this.loginBusy = false
    }
  }

  /** Loads the desk's chunk (once), then shows the desk for `session`. */
  async #start (session: Session): Promise<void> {
    this.session = session
    try {
      await loadDesk()
      this.deskLoaded = true
    } catch (err) {
      // The chunk did not come (network, or a release replaced it): back to the sign-in page.
      this.session = undefined
      this.loginError = this.#l10n.error(err)
    }
  }

  #signedOut (ended: boolean): void {
    clearSession()
    this.session = undefined
    this.loginError = ended ? this.#l10n.t.sessionEnded : ''
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-console-app': ConsoleApp }
}
