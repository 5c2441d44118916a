import { LitElement, html, type PropertyValues } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import { ConnectionController } from '../../controllers/connection-controller.js'
import { DeskController } from '../../controllers/desk-controller.js'
import { LocalizeController } from '../../controllers/localize-controller.js'
import { NotificationController } from '../../controllers/notification-controller.js'
import { emit, type ConsoleEventMap } from '../../events.js'
import { ConsoleApi } from '../../state/api.js'
import { isMine, textOf, visitorName, type ChatState } from '../../state/chat.js'
import { Desk } from '../../state/desk.js'
import type { Session } from '../../state/session.js'
import '../agent-status/agent-status.js'
import '../chat-list/chat-list.js'
import type { ChatListItem } from '../chat-list/chat-list.js'
import '../chat-view/chat-view.js'
import type { ChatView } from '../chat-view/chat-view.js'
import '../connection-banner/connection-banner.js'
import '../locale-picker/locale-picker.js'
import '../queue-list/queue-list.js'
import '../transfer-dialog/transfer-dialog.js'
import type { TransferDialog } from '../transfer-dialog/transfer-dialog.js'
import '../visitor-panel/visitor-panel.js'
import { styles } from './agent-desk.styles.js'

interface Problem { id: number, text: string }
const PROBLEM_MS = 8000

/**
 * @summary The signed-in agent's desk — status and capacity, the queue, the agent's chats, the
 * open chat and its visitor. It owns the client (through `ConnectionController`) and the `Desk`
 * for its `session`, and acts on the `imc-*` events its parts send up. `<imc-console-app>` loads
 * it after sign-in: it is a chunk of its own (with the client library and MQTT.js), so the sign-in
 * page does not pay for it.
 *
 * @event imc-signed-out - `{ended}` when the agent signed out (`false`) or the broker refused the
 * session for good (`true`: the token expired, the account went).
 *
 * @csspart header - the top bar.
 * @csspart desk - the three-column working area.
 *
 * @cssproperty --imc-header - the top bar's background.
 * @cssproperty --imc-page - the page background.
 */
@customElement('imc-agent-desk')
export class AgentDesk extends LitElement {
  static override styles = styles

  /** the signed-in agent; the desk starts when it is set and stops when it goes */
  @property({ attribute: false }) accessor session: Session | undefined
  @state() accessor problems: Problem[] = []

  @query('imc-chat-view') accessor chatView: ChatView | null = null
  @query('imc-transfer-dialog') accessor transferDialog: TransferDialog | null = null

  readonly #l10n = new LocalizeController(this)
  readonly #link = new ConnectionController(this, { onRefused: () => { this.#stop(true) } })
  readonly #desk = new DeskController(this)
  readonly #notify = new NotificationController(this)
  #problemId = 0

  constructor () {
    super()
    const on = <K extends keyof ConsoleEventMap>(name: K, handler: (detail: ConsoleEventMap[K]) => void): void => {
      this.addEventListener(name, (event) => { handler((event as CustomEvent<ConsoleEventMap[K]>).detail) })
    }
    on('imc-status-change', (d) => { void this.desk?.setStatus(d.status, d.capacity) })
    on('imc-select', (d) => { void this.#select(d.cid) })
    on('imc-claim', (d) => { void this.desk?.claim(d.cid) })
    on('imc-queue-more', () => { void this.desk?.showMoreQueue() })
    on('imc-send', (d) => { this.desk?.send(d.cid, d.text) })
    on('imc-typing', (d) => { this.desk?.typing(d.cid, d.on) })
    on('imc-retry', (d) => { this.desk?.retry(d.cmid) })
    on('imc-transfer-request', (d) => { void this.#openTransfer(d.cid) })
    on('imc-transfer', (d) => { void this.desk?.transfer(d.cid, d.to) })
    on('imc-close-chat', (d) => { void this.desk?.close(d.cid) })
    on('imc-view-past', (d) => { void this.desk?.viewPast(d.cid) })
    on('imc-close-past', () => { this.desk?.closePast() })
  }

  get desk (): Desk | undefined { return this.#desk.desk }

  override connectedCallback (): void {
    super.connectedCallback()
    document.addEventListener('visibilitychange', this.#visibility)
    // Put back on the page after it was taken off (which stopped the client): start again.
    if (this.hasUpdated && this.session && !this.desk) this.#start(this.session)
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    document.removeEventListener('visibilitychange', this.#visibility)
    this.desk?.dispose()
    this.#desk.follow(undefined)
  }

  protected override willUpdate (changed: PropertyValues<this>): void {
    if (!changed.has('session')) return
    if (this.session) this.#start(this.session)
    else this.#stop()
  }

  protected override updated (): void {
    const t = this.#l10n.t
    this.#notify.badge(this.desk?.attention ?? 0, t.appTitle, t.titleWithBadge)
  }

  override render () {
    const t = this.#l10n.t
    const desk = this.desk
    if (!this.session || !desk) return html``
    const connected = this.#link.state === 'connected'
    const agent = desk.agent
    const chat = desk.selectedChat
    return html`
      <header part="header" class="top">
        <span class="brand">${t.appTitle}</span>
        <imc-agent-status .agent=${agent}></imc-agent-status>
        <span class="spacer"></span>
        <label class="toggle"><input type="checkbox" .checked=${this.#notify.settings.sound}
          @change=${(e: Event) => { this.#notify.setSound((e.target as HTMLInputElement).checked) }}> ${t.soundLabel}</label>
        <label class="toggle"><input type="checkbox" .checked=${this.#notify.settings.desktop}
          @change=${(e: Event) => { void this.#desktop(e.target as HTMLInputElement) }}> ${t.desktopLabel}</label>
        <imc-locale-picker></imc-locale-picker>
        <span class="who">${t.signedInAs(this.session.uid)}</span>
        <button type="button" @click=${() => { void this.#logout() }}>${t.logout}</button>
      </header>
      <imc-connection-banner state=${this.#link.state} attempt=${this.#link.attempt}></imc-connection-banner>
      <div class="problems" role="alert" ?hidden=${this.problems.length === 0}>
        ${this.problems.map((p) => html`<p class="problem">${p.text}
          <button type="button" @click=${() => { this.#dismiss(p.id) }}>${t.dismiss}</button></p>`)}
      </div>
      <main part="desk" class="desk">
        <nav class="side" aria-label=${t.myChatsTitle}>
          <imc-queue-list .items=${desk.queue.items} total=${desk.queue.total} ?can-claim=${connected && agent !== undefined && agent.active.length < agent.capacity}></imc-queue-list>
          <imc-chat-list .active=${desk.activeChats.map((c) => this.#item(c))} .recent=${desk.recentChats.map((c) => this.#item(c))}
            selected=${desk.selected ?? ''}></imc-chat-list>
        </nav>
        <imc-chat-view class="chat" me=${desk.me} .conv=${chat?.conv} .messages=${chat?.messages ?? []}
          .pending=${chat ? desk.pendingOf(chat.conv.cid) : []} .canned=${desk.canned} .viewing=${desk.viewing}
          ?mine=${chat !== undefined && isMine(chat, desk.me)} ?online=${connected}
          ?typing=${chat !== undefined && chat.typingUntil > Date.now()} peer-read-seq=${chat?.peerReadSeq ?? 0}
          note=${chat ? this.#note(chat) : ''}></imc-chat-view>
        <imc-visitor-panel class="visitor" .conv=${chat?.conv} .past=${desk.past?.chats ?? []} viewing=${desk.viewing?.conv.cid ?? ''}></imc-visitor-panel>
      </main>
      <imc-transfer-dialog .agents=${desk.agents}></imc-transfer-dialog>
    `
  }

  #item (chat: ChatState): ChatListItem {
    const last = chat.messages.at(-1)
    const note = this.#note(chat)
    return {
      cid: chat.conv.cid,
      name: visitorName(chat.conv),
      preview: last ? (textOf(last) ?? '') : '',
      unread: isMine(chat, this.desk?.me ?? '') ? this.desk?.unread(chat) ?? 0 : 0,
      fresh: chat.fresh,
      state: chat.conv.support?.state ?? 'closed',
      ...(note !== '' ? { note } : {})
    }
  }

  /** Why a chat is no longer the agent's: closed (and why), or handed on. */
  #note (chat: ChatState): string {
    const t = this.#l10n.t
    const support = chat.conv.support
    if (support?.state === 'closed') return t.closedBecause(t.closeReasons[support.closedReason ?? 'agent'])
    if (chat.handedTo === null) return t.backToQueue
    if (chat.handedTo !== undefined) return t.transferredAway(chat.handedTo)
    return ''
  }

  #start (session: Session): void {
    this.desk?.dispose()
    const client = this.#link.start(session)
    const desk = new Desk({ me: session.uid, client, api: new ConsoleApi(location.origin, session.token) })
    desk.on('alert', (alert) => {
      const t = this.#l10n.t
      this.#notify.notify(alert.kind === 'assigned' ? t.notifyAssigned(alert.name) : t.notifyMessage(alert.name), alert.text)
    })
    desk.on('problem', ({ error }) => { this.#problem(this.#l10n.error(error)) })
    this.#desk.follow(desk)
  }

  async #logout (): Promise<void> {
    const desk = this.desk
    // Going offline first: the desk stops routing chats to an agent who left.
    if (desk?.agent && desk.agent.status !== 'offline') await desk.setStatus('offline')
    this.#stop(false)
  }

  /** Stops the client and the desk; with `ended` given, tells the page the agent is signed out. */
  #stop (ended?: boolean): void {
    this.desk?.dispose()
    this.#desk.follow(undefined)
    void this.#link.stop()
    this.problems = []
    if (ended !== undefined) emit(this, 'imc-signed-out', { ended })
  }

  async #select (cid: string): Promise<void> {
    const selecting = this.desk?.select(cid)
    await this.updateComplete
    await this.chatView?.focusComposer()
    await selecting
  }

  async #openTransfer (cid: string): Promise<void> {
    await this.desk?.loadAgents()
    await this.updateComplete
    await this.transferDialog?.open(cid)
  }

  async #desktop (input: HTMLInputElement): Promise<void> {
    const allowed = await this.#notify.setDesktop(input.checked)
    input.checked = this.#notify.settings.desktop
    if (!allowed) this.#problem(this.#l10n.t.desktopDenied)
  }

  #problem (text: string): void {
    const id = ++this.#problemId
    this.problems = [...this.problems.slice(-2), { id, text }]
    setTimeout(() => { this.#dismiss(id) }, PROBLEM_MS)
  }

  #dismiss (id: number): void {
    this.problems = this.problems.filter((p) => p.id !== id)
  }

  readonly #visibility = (): void => {
    this.desk?.markRead()
  }
}

declare global {
  interface HTMLElementTagNameMap { 'imc-agent-desk': AgentDesk }
}
