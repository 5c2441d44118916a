/**
 * `WidgetSession`: everything the widget knows and does, without any UI — the visitor's identity,
 * the connection (the shared `ImClient` on the minimal MQTT transport), the current support chat
 * and its messages, sends kept until stored, the connection's idle release, unread counts. The
 * launcher shows its unread count; the panel renders it and calls its methods.
 *
 * Message path: `send()` → pending entry (localStorage) → chat opened over HTTP if needed →
 * `ImClient.send` (QoS 1, same cmid on every retry) → the echo (`msg` event) marks it stored →
 * the agent's `read` marks it read. After every (re)connect the chat is caught up over HTTP by
 * seq, so nothing is missing or doubled [IM-SYNC-1].
 */
import { Backoff, ImClient } from '../../shared/client/core.js'
import { randomId } from '../../shared/client/ids.js'
import { MiniMqttTransport } from '../../shared/client/mini-mqtt/mini-transport.js'
import { Emitter } from '../../shared/client/emitter.js'
import { ImError } from '../../shared/errors.js'
import { TYPING_TTL_MS, type Conversation, type ConvEvent, type Message, type VisitorContext } from '../../shared/protocol.js'
import { ChatLog, type PendingEntry } from './chat-log.js'
import { VisitorIdentitySource, type VisitorIdentity } from './identity.js'
import { mqttUrlOf, type WidgetOptions } from './options.js'
import { PageActivity } from './page-activity.js'
import { ACTIVE_CHAT_KEY, SiteStorage } from './storage.js'
import { claimTabSlot, type TabSlot } from './tab-slot.js'

export type SessionStatus = 'idle' | 'loading' | 'ready' | 'failed'
export type ConnectionStatus = 'connecting' | 'online' | 'reconnecting' | 'released' | 'closed'
export type NoticeCode = 'queued' | 'offline' | 'assigned'

export interface SessionEvents {
  /** anything shown changed */
  change: undefined
  /** a new message from the agent (not history) */
  message: Message
  'unread-count-changed': { count: number }
  'conversation-closed': { conversation: Conversation }
}

export interface Profile { name?: string, email?: string }

const TYPING_REPEAT_MS = 3000
/** a chat could not be opened (no network): try again after this long */
const FLUSH_RETRY_MS = 3000
const KEY_PROFILE = 'profile'

export class WidgetSession extends Emitter<SessionEvents> {
  readonly options: WidgetOptions
  readonly #storage: SiteStorage
  readonly #identity: VisitorIdentitySource
  #me: VisitorIdentity | undefined
  #slot: TabSlot | undefined
  #client: ImClient | undefined
  #activity: PageActivity | undefined
  #starting: Promise<void> | undefined

  status: SessionStatus = 'idle'
  connection: ConnectionStatus = 'connecting'
  /** the "reconnecting…" banner: only once a gap has lasted `bannerDelayMs` */
  banner = false
  loadError: string | undefined
  conversation: Conversation | undefined
  log: ChatLog | undefined
  queue: { position: number, waiting: number } | undefined
  notice: NoticeCode | undefined
  /** until when the agent counts as typing (local clock) */
  agentTypingUntil = 0
  /** the last error not tied to a message, as a catalogue code */
  lastError: string | undefined
  rated = false
  #viewing = false
  #unread = 0
  #bannerTimer: ReturnType<typeof setTimeout> | undefined
  #typingTimer: ReturnType<typeof setTimeout> | undefined
  #flushTimer: ReturnType<typeof setTimeout> | undefined
  #startTimer: ReturnType<typeof setTimeout> | undefined
  readonly #startBackoff = new Backoff({ jitter: 0.2 })
  #typingSentAt = 0
  readonly #inFlight = new Set<string>()
  #flushing: Promise<void> = Promise.resolve()
  #opening: Promise<Conversation> | undefined
  #shutDown = false

  constructor (options: WidgetOptions) {
    super()
    this.options = options
    this.#storage = new SiteStorage(options.site)
    this.#identity = new VisitorIdentitySource({
      server: options.server,
      site: options.site,
      storage: this.#storage,
      ...(options.identityToken ? { identityToken: options.identityToken } : {})
    })
  }

  get uid (): string | undefined { return this.#me?.uid }

  get unread (): number { return this.#unread }

  get profile (): Profile { return this.#storage.get<Profile>(KEY_PROFILE) ?? {} }

  /** The pre-chat form is due: fields are configured, the visitor has never chatted here nor filled it. */
  get needsPrechat (): boolean {
    return this.options.prechat.length > 0 && !this.options.identityToken && this.conversation === undefined &&
      this.#storage.get<Profile>(KEY_PROFILE) === undefined
  }

  get open (): boolean {
    return this.conversation !== undefined && this.conversation.support?.state !== 'closed'
  }

  get agentTyping (): boolean { return this.agentTypingUntil > Date.now() }

  /** Loads identity and chat, then connects; concurrent calls share one start. */
  async start (): Promise<void> {
    this.#starting ??= this.#start()
    await this.#starting
  }

  async #start (): Promise<void> {
    this.status = 'loading'
    this.loadError = undefined
    this.#changed()
    try {
      this.#me = await this.#identity.get()
      this.#slot ??= await claimTabSlot(this.options.site)
      this.log ??= new ChatLog(this.#me.uid)
      // A visitor the broker made just now has no chat to load (the first connect looks anyway).
      const load = !this.#identity.minted
      if (!this.#client) this.#openClient(load)
      if (load) await this.#loadCurrent()
      for (const entry of this.#storage.get<PendingEntry[]>(this.#pendingKey) ?? []) this.log.addPending(entry)
      this.status = 'ready'
      this.#activity ??= new PageActivity({
        idleMs: this.options.idleReleaseMs,
        release: () => this.release(),
        resume: () => { this.resume() }
      })
      this.#changed()
      void this.#flushPending()
    } catch (err) {
      this.#starting = undefined
      this.status = 'failed'
      this.loadError = codeOf(err)
      // The broker unreachable (not a refusal): try again by itself, 1 s, 2 s … 30 s apart, so
      // kept sends go out and the badge works without the visitor pressing "try again".
      if (!(err instanceof ImError) && !this.#shutDown && this.#startTimer === undefined) {
        this.#startTimer = setTimeout(() => {
          this.#startTimer = undefined
          if (this.status === 'failed' && !this.#shutDown) this.start().catch(() => undefined)
        }, this.#startBackoff.next())
      }
      this.#changed()
      throw err
    }
    this.#startBackoff.reset()
  }

  /** The panel is shown (or not): messages arriving while it is shown and the page visible are read. */
  setViewing (viewing: boolean): void {
    this.#viewing = viewing
    if (viewing && this.connection === 'released') this.resume()
    if (viewing) this.markRead()
  }

  markRead (): void {
    const log = this.log
    const cid = this.conversation?.cid
    if (!log || !cid || !this.#viewing || document.visibilityState !== 'visible') return
    const seq = log.lastIncomingSeq
    if (seq <= log.myReadSeq) return
    log.read(log.me, seq)
    this.#updateUnread()
    this.#changed()
    void this.#client?.read(cid, seq).catch(() => undefined)
  }

  /** Sends a text message; it shows as "sending" at once and is kept until the server stored it. */
  send (text: string): void {
    const body = text.trim()
    if (!body || !this.log) return
    this.log.addPending({ cmid: randomId(), text: body, ts: Date.now() })
    this.#savePending()
    this.#stopTyping()
    this.#changed()
    void this.#flushPending()
  }

  retry (cmid: string): void {
    if (!this.log?.retry(cmid)) return
    this.#savePending()
    this.#changed()
    void this.#flushPending()
  }

  /** The pre-chat form: kept for the context of every chat this visitor opens. */
  submitPrechat (profile: Profile): void {
    this.#storage.set(KEY_PROFILE, profile)
    this.#changed()
  }

  /** The visitor types: tells the agent at most every 3 s (QoS 0, nothing if offline). */
  typing (): void {
    const cid = this.conversation?.cid
    if (!cid || !this.open || Date.now() - this.#typingSentAt < TYPING_REPEAT_MS) return
    this.#typingSentAt = Date.now()
    void this.#client?.typing(cid, true).catch(() => undefined)
  }

  #stopTyping (): void {
    const cid = this.conversation?.cid
    if (!cid || this.#typingSentAt === 0) return
    this.#typingSentAt = 0
    void this.#client?.typing(cid, false).catch(() => undefined)
  }

  async endChat (): Promise<void> {
    const cid = this.conversation?.cid
    if (!cid || !this.open) return
    await this.#command(async (client) => { await client.support({ op: 'support.close', cid }) })
  }

  async rate (score: number, comment?: string): Promise<void> {
    const cid = this.conversation?.cid
    if (!cid) return
    await this.#command(async (client) => {
      await client.support({ op: 'support.rate', cid, score, ...(comment ? { comment } : {}) })
      this.rated = true
    })
  }

  /** After a closed chat: an empty panel; the next message opens a new chat. */
  newChat (): void {
    if (this.open || !this.#me) return
    this.conversation = undefined
    this.log = new ChatLog(this.#me.uid)
    this.queue = undefined
    this.notice = undefined
    this.rated = false
    this.#storage.set(ACTIVE_CHAT_KEY, false)
    this.#updateUnread()
    this.#changed()
  }

  /** Lets go of the connection while the visitor is away; false while a send is on its way. */
  release (): boolean {
    if (!this.#client || this.connection === 'released') return true
    if ((this.log?.pending().some((p) => p.failed === undefined) ?? false) || this.#inFlight.size > 0) return false
    const client = this.#client
    this.#client = undefined
    this.connection = 'released'
    this.#clearBanner()
    this.#changed()
    void client.close()
    return true
  }

  /** The visitor is back: reconnect (and catch up) if the connection was released. */
  resume (): void {
    this.#activity?.resumed()
    if (this.#client || this.#shutDown || this.status !== 'ready') return
    this.connection = 'connecting'
    this.#changed()
    this.#openClient()
  }

  /** Closes the connection for good and forgets the visitor (the host site's logout). */
  async shutdown (): Promise<void> {
    this.#shutDown = true
    if (this.#startTimer !== undefined) clearTimeout(this.#startTimer)
    this.#activity?.stop()
    this.#clearBanner()
    const client = this.#client
    this.#client = undefined
    this.connection = 'closed'
    await client?.close()
    this.#slot?.release()
    this.#storage.clear()
    this.#changed()
  }

  // ---- connection ----

  /** A client, connecting; `listing`: the start is fetching the chat over HTTP meanwhile. */
  #openClient (listing = false): void {
    const me = this.#me!
    const client = new ImClient({
      mqttUrl: mqttUrlOf(this.options.server),
      httpUrl: this.options.server,
      uid: me.uid,
      token: me.token,
      getToken: async () => (await this.#identity.get()).token,
      clientId: `${me.uid}-t${this.#slot!.index}`,
      transport: new MiniMqttTransport()
    })
    this.#client = client
    this.connection = 'connecting'
    const mine = (): boolean => this.#client === client
    let first = true
    client.on('connected', ({ sessionPresent }) => {
      if (!mine()) return
      // The start lists the chat (and fetches its history) while this client connects. When the
      // broker kept the session, whatever happened since is queued for it [MQTT-3.1.2-5] and
      // comes now, so its first connect needs no second look; every other connect catches up.
      const caughtUp = first && listing && sessionPresent
      first = false
      this.#onConnected(!caughtUp)
    })
    client.on('disconnected', ({ willReconnect }) => { if (mine()) this.#onDisconnected(willReconnect) })
    client.on('closed', () => { if (mine()) { this.connection = 'closed'; this.#changed() } })
    client.on('message', (m) => { if (mine()) this.#onMessage(m, true) })
    client.on('sent', (m) => { if (mine()) this.#onMessage(m, false) })
    client.on('failed', ({ pending, error }) => { if (mine()) this.#onFailed(pending.cmid, error) })
    client.on('read', (e) => {
      if (mine() && e.cid === this.conversation?.cid && this.log?.read(e.uid, e.seq)) { this.#updateUnread(); this.#changed() }
    })
    client.on('typing', (e) => {
      if (!mine() || e.cid !== this.conversation?.cid || e.uid === me.uid) return
      this.#setAgentTyping(e.on)
    })
    client.on('recall', (e) => {
      if (mine() && e.cid === this.conversation?.cid && this.log?.recall(e.id, Date.now())) { this.#updateUnread(); this.#changed() }
    })
    client.on('edit', (e) => { if (mine()) this.#onMessage(e.msg, false) })
    client.on('conv', (e) => { if (mine()) this.#onConv(e) })
    client.on('queue', (e) => {
      if (!mine() || e.cid !== this.conversation?.cid) return
      this.queue = { position: e.position, waiting: e.waiting }
      this.#changed()
    })
    client.on('notice', (e) => {
      if (!mine() || e.cid !== this.conversation?.cid) return
      this.notice = e.code
      this.#changed()
    })
    client.on('error', (e) => {
      if (!mine() || (e.cmid !== undefined && this.log?.pendingEntry(e.cmid))) return
      this.lastError = e.code
      this.#changed()
    })
    client.connect().catch(() => undefined)
  }

  /** The agent's typing shows until it stops, a message comes, or TYPING_TTL_MS pass [IM-CMD-TYPING]. */
  #setAgentTyping (on: boolean): void {
    if (this.#typingTimer !== undefined) clearTimeout(this.#typingTimer)
    this.#typingTimer = undefined
    this.agentTypingUntil = on ? Date.now() + TYPING_TTL_MS : 0
    if (on) this.#typingTimer = setTimeout(() => { this.#typingTimer = undefined; this.#changed() }, TYPING_TTL_MS + 50)
    this.#changed()
  }

  #onConnected (catchUp: boolean): void {
    this.connection = 'online'
    this.#clearBanner()
    this.#changed()
    if (catchUp) this.#catchUp().catch(() => undefined)
    void this.#flushPending()
  }

  #onDisconnected (willReconnect: boolean): void {
    this.connection = willReconnect ? 'reconnecting' : 'closed'
    this.#typingSentAt = 0
    if (willReconnect && this.#bannerTimer === undefined) {
      this.#bannerTimer = setTimeout(() => { this.banner = true; this.#changed() }, this.options.bannerDelayMs)
    }
    this.#changed()
  }

  #clearBanner (): void {
    if (this.#bannerTimer !== undefined) clearTimeout(this.#bannerTimer)
    this.#bannerTimer = undefined
    this.banner = false
  }

  // ---- the chat ----

  /** The newest support chat of this visitor and its whole history. */
  async #loadCurrent (): Promise<void> {
    const client = this.#client!
    const newest = (await client.supportConversations())[0]
    if (!newest || (newest.support?.state === 'closed' && this.#storage.get<boolean>(ACTIVE_CHAT_KEY) !== true)) return
    // A `conv` event that came while the list was on its way is no older than the list: it stays.
    const current = this.conversation
    if (current && (current.cid === newest.cid || current.createdAt > newest.createdAt)) return
    if (current) { this.#switchTo(newest); return }
    this.#adopt(newest)
    await this.#fetchHistory()
  }

  /** After a (re)connect: the chat's state may have changed (closed while away), and messages missed. */
  async #catchUp (): Promise<void> {
    const client = this.#client
    if (!client || !this.log) return
    const newest = (await client.supportConversations())[0]
    if (newest && this.conversation && newest.cid !== this.conversation.cid && newest.createdAt > this.conversation.createdAt) {
      this.#switchTo(newest)
    } else if (newest && newest.cid === this.conversation?.cid) {
      this.#onConv({ ev: 'conv', type: newest.support?.state === 'closed' ? 'closed' : 'assigned', conv: newest })
    }
    await this.#fetchHistory()
  }

  /** Pages through the messages after the highest seq known (all of them the first time). */
  async #fetchHistory (): Promise<void> {
    const cid = this.conversation?.cid
    const client = this.#client
    if (!cid || !client || !this.log) return
    const log = this.log
    for (;;) {
      const page = await client.history(cid, { after: log.maxSeq, limit: 200 })
      if (this.log !== log || this.conversation?.cid !== cid) return
      for (const m of page.messages) log.merge(m)
      if (!page.more || page.messages.length === 0) break
    }
    // Read first when the panel shows them: no unread count goes up only to come down at once.
    this.markRead()
    this.#updateUnread()
    this.#changed()
  }

  #adopt (conv: Conversation): void {
    this.conversation = conv
    const log = this.log!
    for (const member of conv.members) log.read(member.uid, member.readSeq)
    if (conv.support?.state === 'active') this.queue = undefined
    this.#storage.set(ACTIVE_CHAT_KEY, conv.support?.state !== 'closed')
  }

  #switchTo (conv: Conversation): void {
    const pending = this.log?.pending() ?? []
    this.log = new ChatLog(this.#me!.uid)
    for (const entry of pending) this.log.addPending(entry)
    this.queue = undefined
    this.notice = undefined
    this.rated = false
    this.#adopt(conv)
    this.#fetchHistory().catch(() => undefined)
  }

  #onConv (e: ConvEvent): void {
    const conv = e.conv
    if (conv.kind !== 'support') return
    const current = this.conversation
    if (!current || (conv.cid !== current.cid && conv.createdAt > current.createdAt)) {
      this.#switchTo(conv)
    } else if (conv.cid === current.cid) {
      const wasOpen = this.open
      this.#adopt(conv)
      if (conv.support?.rating) this.rated = true
      if (wasOpen && !this.open) {
        this.#setAgentTyping(false)
        this.emit('conversation-closed', { conversation: conv })
      }
    }
    this.#changed()
  }

  #onMessage (m: Message, live: boolean): void {
    if (!this.log || m.cid !== this.conversation?.cid) return
    const fresh = this.log.merge(m)
    if (m.from === this.log.me) {
      this.#inFlight.delete(m.cmid)
      this.#savePending()
    } else if (fresh && live) {
      if (this.agentTyping) this.#setAgentTyping(false)
      this.emit('message', m)
    }
    this.markRead()
    this.#updateUnread()
    this.#changed()
  }

  #onFailed (cmid: string, error: Error): void {
    this.#inFlight.delete(cmid)
    // Our own release or shutdown closed the client: the send is kept and goes out again later.
    if (this.#client === undefined) return
    this.log?.fail(cmid, codeOf(error))
    this.#savePending()
    this.#changed()
  }

  /** Sends what is pending, in order, once a chat is open; one run at a time. */
  async #flushPending (): Promise<void> {
    const run = this.#flushing.then(async () => {
      const log = this.log
      const waiting = log?.pending().filter((p) => p.failed === undefined && !this.#inFlight.has(p.cmid)) ?? []
      if (!log || waiting.length === 0 || this.status !== 'ready') return
      let conv: Conversation
      try {
        conv = await this.#ensureConversation()
      } catch (err) {
        // No network now: tried again shortly, and on the next connect. A refusal fails the sends.
        if (err instanceof ImError) {
          for (const entry of waiting) log.fail(entry.cmid, err.code)
          this.#savePending()
          this.#changed()
        } else if (!this.#shutDown && this.#flushTimer === undefined) {
          this.#flushTimer = setTimeout(() => { this.#flushTimer = undefined; void this.#flushPending() }, FLUSH_RETRY_MS)
        }
        return
      }
      const client = this.#client
      if (!client) return
      for (const entry of waiting) {
        this.#inFlight.add(entry.cmid)
        client.send(conv.cid, entry.text, 'text', { cmid: entry.cmid }).catch(() => undefined)
      }
    })
    this.#flushing = run.catch(() => undefined)
    await this.#flushing
  }

  /** The open chat, or a new one (with the page's context and the pre-chat answers). */
  async #ensureConversation (): Promise<Conversation> {
    if (this.conversation && this.open) return this.conversation
    const client = this.#client
    if (!client) throw new Error('no connection')
    this.#opening ??= client.openSupport(this.#context()).finally(() => { this.#opening = undefined })
    const conv = await this.#opening
    if (this.conversation?.cid !== conv.cid) this.#switchTo(conv)
    return conv
  }

  #context (): VisitorContext {
    const profile = this.profile
    return {
      url: location.href.slice(0, 2048),
      ...(document.referrer ? { referrer: document.referrer.slice(0, 2048) } : {}),
      locale: this.options.locale.slice(0, 35),
      userAgent: navigator.userAgent.slice(0, 512),
      ...(profile.name ? { name: profile.name.slice(0, 200) } : {}),
      ...(profile.email ? { email: profile.email.slice(0, 320) } : {})
    }
  }

  async #command (run: (client: ImClient) => Promise<void>): Promise<void> {
    const client = this.#client
    try {
      if (!client) throw new ImError('IM_ERR_BAD_REQUEST')
      await run(client)
      this.lastError = undefined
    } catch (err) {
      this.lastError = codeOf(err)
    }
    this.#changed()
  }

  get #pendingKey (): string { return `pending:${this.#slot?.index ?? 0}` }

  #savePending (): void {
    this.#storage.set(this.#pendingKey, this.log?.pending() ?? [])
  }

  #updateUnread (): void {
    const count = this.log?.unread() ?? 0
    if (count === this.#unread) return
    this.#unread = count
    this.emit('unread-count-changed', { count })
  }

  #changed (): void {
    this.emit('change', undefined)
  }
}

function codeOf (err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code
  return 'IM_ERR_INTERNAL'
}
