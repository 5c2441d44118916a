/**
 * `ImClient`: one principal's connection to the IM backbone, for the widget, the console, apps and
 * tests. It connects with the token on a persistent session, reconnects with backoff, keeps sends
 * pending until their echo (re-sending with the same cmid), hands out each message once and in
 * order (filling gaps over HTTP), and syncs every conversation after each (re)connect [IM-SYNC-1].
 *
 * The transport is given (`createImClient` in index.ts defaults it to MQTT.js), so a bundle that
 * brings its own never includes MQTT.js.
 */
import { ImError } from '../errors.js'
import type {
  Conversation, ConversationKind, ConversationSummary, CustomBody, HistoryPage, Message, MessageType, RecallEvent, ServerEvent, SupportCommand, TextBody, VisitorContext
} from '../protocol.js'
import { topics } from '../topics.js'
import { Backoff } from './backoff.js'
import { Commands } from './commands.js'
import { Connection, type ConnectionState } from './connection.js'
import { Emitter } from './emitter.js'
import { ImClientError } from './errors.js'
import { HttpApi, type HistoryQuery } from './http-api.js'
import { randomId } from './ids.js'
import { parseEvent } from './inbound.js'
import { PendingSends, type PendingMessage } from './pending-sends.js'
import { RecentSet } from './recent-set.js'
import { SyncRunner } from './sync-runner.js'
import { systemTimers, type Timers } from './timers.js'
import { TokenSource } from './tokens.js'
import { SUBACK_FAILURE, type Transport } from './transport.js'
import type { ImClientEvents, ImClientOptions } from './types.js'
import { Waiters } from './waiters.js'

export class ImClient extends Emitter<ImClientEvents> {
  readonly uid: string
  readonly clientId: string
  readonly #transport: Transport
  readonly #timers: Timers
  readonly #http: HttpApi
  readonly #conn: Connection
  readonly #sync: SyncRunner
  readonly #pending: PendingSends
  readonly #waiters: Waiters
  readonly #commands: Commands
  readonly #seen = new RecentSet(2000)
  readonly #newId: () => string
  #closed = false

  constructor (o: ImClientOptions) {
    super()
    this.uid = o.uid
    this.clientId = o.clientId
    this.#transport = o.transport
    this.#timers = o.timers ?? systemTimers
    this.#newId = o.newId ?? (() => randomId(o.random))
    const tokens = new TokenSource(o.token, o.getToken)
    this.#http = new HttpApi({ baseUrl: o.httpUrl, tokens, ...(o.fetch ? { fetch: o.fetch } : {}) })
    const backoff = (): Backoff => new Backoff({ ...o.reconnect, ...(o.random ? { random: o.random } : {}) })
    this.#conn = new Connection({
      url: o.mqttUrl,
      uid: o.uid,
      clientId: o.clientId,
      keepaliveSeconds: o.keepaliveSeconds ?? 30,
      connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
      transport: this.#transport,
      tokens,
      backoff: backoff(),
      timers: this.#timers,
      setup: async () => {
        // [IM-TOPIC-1] every event for this principal, QoS 1, kept by the session while away.
        const granted = await this.#transport.subscribe(topics.inbox(o.uid), 1)
        if (granted === SUBACK_FAILURE) throw new Error(`the broker refused the subscription to ${topics.inbox(o.uid)}`)
      }
    })
    this.#sync = new SyncRunner({
      http: this.#http,
      timers: this.#timers,
      backoff: backoff(),
      gapGraceMs: o.gapGraceMs ?? 200,
      deliver: (message) => { this.#acked(message); if (!this.#closed) this.emit('message', message) },
      synced: (range) => { this.emit('synced', range) },
      failed: (failure) => { this.emit('sync-failed', failure) },
      connected: () => this.connected
    })
    for (const [cid, seq] of Object.entries(o.lastSeqs ?? {})) this.#sync.sequencer.know(cid, seq)
    this.#pending = new PendingSends({
      publish: async (command) => { await this.#commands.publish(command, 1) },
      timers: this.#timers,
      echoTimeoutMs: o.echoTimeoutMs ?? 10_000,
      changed: (pending) => { this.emit('pending', pending) }
    })
    this.#waiters = new Waiters(this.#timers, o.commandTimeoutMs ?? 10_000)
    this.#commands = new Commands({ uid: o.uid, transport: this.#transport, waiters: this.#waiters, newId: this.#newId, connected: () => this.connected })
    this.#transport.on('message', ({ topic, payload }) => {
      const event = topic === topics.inbox(this.uid) ? parseEvent(payload) : null
      if (event) this.#onEvent(event)
    })
    this.#conn.on('connected', (e) => { this.#onConnected(e.sessionPresent) })
    this.#conn.on('disconnected', (e) => { this.#pending.offline(); this.#sync.pause(); this.emit('disconnected', e) })
    this.#conn.on('reconnecting', (e) => { this.emit('reconnecting', e) })
    this.#conn.on('closed', (e) => { this.#shutdown(e.error); this.emit('closed', e) })
  }

  get state (): ConnectionState { return this.#conn.state }

  get connected (): boolean { return this.#conn.state === 'connected' }

  /** Resolves on the first successful connect; retries on its own until then. */
  async connect (): Promise<void> {
    await this.#conn.start()
  }

  /** Disconnects for good: no reconnect; pending sends fail with `CLIENT_CLOSED`. */
  async close (): Promise<void> {
    await this.#conn.close()
  }

  /**
   * Sends a message; resolves with the stored message when its echo arrives. A string is a text
   * message; `type` defaults to `custom` for a `{kind, data}` body. Pass `cmid` to re-send a send
   * kept from an earlier run (`pending()`): the server stores it once. Not awaiting it is fine:
   * the `sent` and `failed` events tell the outcome too.
   */
  send (cid: string, body: string | TextBody | CustomBody, type?: MessageType, options: { cmid?: string } = {}): Promise<Message> {
    if (this.#closed) return Promise.reject(new ImClientError('CLIENT_CLOSED', 'the client is closed'))
    const content = typeof body === 'string' ? { text: body } : body
    const kind = type ?? ('kind' in content ? 'custom' : 'text')
    return this.#pending.add({ op: 'send', cmid: options.cmid ?? this.#newId(), cid, type: kind, body: content })
  }

  /** Sends not yet confirmed by their echo, oldest first. */
  pending (): PendingMessage[] {
    return this.#pending.list()
  }

  /** Gives up a pending send (it may still arrive if it was stored already). */
  cancel (cmid: string): boolean {
    return this.#failSend(cmid, new ImClientError('CLIENT_CANCELLED', `send ${cmid} was cancelled`))
  }

  /** Moves this principal's read position; while offline it is kept and sent after the reconnect. */
  async read (cid: string, seq: number): Promise<void> {
    await this.#commands.read(cid, seq)
  }

  /** Best effort, QoS 0: nothing happens while offline [IM-CMD-TYPING]. */
  async typing (cid: string, on: boolean): Promise<void> {
    await this.#commands.typing(cid, on)
  }

  /** Recalls an own message; resolves with the `recall` event, rejects with the server's error. */
  async recall (cid: string, id: string): Promise<RecallEvent> {
    return await this.#commands.recall(cid, id)
  }

  /** Edits an own text message; resolves with the edited message. */
  async edit (cid: string, id: string, text: string): Promise<Message> {
    return await this.#commands.edit(cid, id, text)
  }

  /**
   * A customer-service command (`agent.status`, `support.claim`, `support.transfer`,
   * `support.close`, `support.open`, `support.rate`) at QoS 1. It resolves on the PUBACK; the
   * outcome arrives as events (`conv`, `agent`, `queue`…) or as an `error` event with its `op`.
   * Rejects with `CLIENT_OFFLINE` while disconnected: these commands are not kept for later.
   */
  async support (command: SupportCommand): Promise<void> {
    if (!this.connected) throw new ImClientError('CLIENT_OFFLINE', `${command.op} needs a connection`)
    await this.#commands.publish(command, 1)
  }

  /** This principal's conversations with `lastMessage` and `unread`, newest activity first. */
  async conversations (): Promise<ConversationSummary[]> { return await this.#http.conversations() }

  /** One conversation, with every member's readSeq. */
  async conversation (cid: string): Promise<Conversation> { return await this.#http.conversation(cid) }

  async createConversation (kind: ConversationKind, members: string[], title?: string): Promise<Conversation> {
    const conv = await this.#http.createConversation(kind, members, title)
    this.#sync.sequencer.know(conv.cid, conv.lastSeq)
    return conv
  }

  /** A visitor's own support chats, newest first (customer service). */
  async supportConversations (): Promise<Conversation[]> { return await this.#http.supportConversations() }

  /**
   * A visitor opens a support chat over HTTP (so it works before the MQTT connection is up): its
   * open chat if it has one, otherwise a new one in the queue [IM-SUPPORT-OPEN].
   */
  async openSupport (context?: VisitorContext): Promise<Conversation> {
    const conv = await this.#http.openSupport(context)
    this.#sync.sequencer.know(conv.cid, conv.lastSeq)
    return conv
  }

  /** A page of history (for display; it emits nothing). */
  async history (cid: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    return await this.#http.messages(cid, query)
  }

  /** Fetches and emits what this client misses: of `cid`, or of every conversation. */
  async sync (cid?: string): Promise<void> {
    if (cid !== undefined) await this.#sync.sequencer.syncTo(cid)
    else await this.#sync.all()
  }

  /** The highest seq handed out per conversation: keep it, and give it back as `lastSeqs`. */
  lastSeqs (): Record<string, number> {
    return this.#sync.sequencer.snapshot()
  }

  #onEvent (event: ServerEvent): void {
    if (this.#closed) return
    switch (event.ev) {
      case 'msg':
        this.#acked(event.msg)
        this.#sync.sequencer.receive(event.msg)
        return
      case 'recall':
        this.#waiters.offer(event)
        if (this.#seen.add(`recall:${event.id}`)) this.emit('recall', event)
        return
      case 'edit':
        this.#waiters.offer(event)
        if (this.#seen.add(`edit:${event.msg.id}:${event.msg.editedAt ?? ''}`)) this.emit('edit', event)
        return
      case 'read': this.emit('read', event); return
      case 'typing': this.emit('typing', event); return
      case 'presence': this.emit('presence', event); return
      case 'conv':
        if (event.type === 'created' || (event.type === 'member-added' && event.uid === this.uid)) this.#sync.sequencer.know(event.conv.cid, event.conv.lastSeq)
        if (event.type === 'member-removed' && event.uid === this.uid) this.#sync.sequencer.forget(event.conv.cid)
        this.emit('conv', event)
        return
      case 'error':
        if (event.cmid !== undefined) {
          const error = new ImError(event.code, event.message)
          if (!this.#failSend(event.cmid, error)) this.#waiters.fail(event.cmid, error)
        }
        this.emit('error', event)
        return
      case 'queue': this.emit('queue', event); return
      case 'notice': this.emit('notice', event); return
      case 'support-queue': this.emit('support-queue', event); return
      case 'agent': this.emit('agent', event); return
      default: return event satisfies never
    }
  }

  /** The echo of a pending send completes it. */
  #acked (message: Message): void {
    if (message.from !== this.uid) return
    if (this.#pending.ack(message)) this.emit('sent', message)
  }

  #failSend (cmid: string, error: Error): boolean {
    const pending = this.#pending.fail(cmid, error)
    if (pending) this.emit('failed', { pending, error })
    return pending !== undefined
  }

  #onConnected (sessionPresent: boolean): void {
    this.#pending.online()
    void this.#commands.flushReads()
    this.emit('connected', { sessionPresent })
    this.#sync.afterConnect()
  }

  #shutdown (cause?: Error): void {
    this.#closed = true
    this.#sync.stop()
    const error = new ImClientError('CLIENT_CLOSED', cause ? `the client is closed: ${cause.message}` : 'the client is closed', { cause })
    for (const pending of this.#pending.failAll(error)) this.emit('failed', { pending, error })
    this.#waiters.failAll(error)
  }
}
