/**
 * The desk: everything the console shows, kept in step with the broker. It listens to the client
 * library's events (messages, receipts, typing, `conv`, `support-queue`, `agent`, errors) and
 * after every (re)connect resyncs in full over HTTP — the agent's state, the queue, its chats and
 * their history — so nothing missed while away stays missing [IM-SYNC-1]. Components read it and
 * call its actions; it says `change` when anything changed, and `alert` for a new assignment or a
 * visitor message the agent is not looking at.
 */
import { Emitter, type ImClient, type PendingMessage } from '../../shared/client/core.js'
import { TYPING_TTL_MS, type AgentState, type AgentStatus, type ConvEvent, type Conversation, type Message } from '../../shared/protocol.js'
import type { CannedReply, ConsoleApi } from './api.js'
import {
  activeChats, attention, contiguousSeq, isMine, mergeMessages, newChat, plainConversation, recentChats, unreadCount, visitorName, visitorReadSeq, type ChatState
} from './chat.js'
import { fetchHistory } from './loaders.js'
import { QueueState } from './queue.js'

export type { QueueItem } from '../../shared/protocol.js'
export interface PendingView extends PendingMessage { failed?: boolean }
export interface PastChatView { conv: Conversation, messages: Message[] }
export interface Alert { kind: 'assigned' | 'message', cid: string, name: string, text?: string }

export interface DeskEvents {
  change: undefined
  alert: Alert
  /** an action failed: an `ApiError`, an `ImError`, an `ImClientError` or an `error` event */
  problem: { error: unknown }
}

export interface DeskDeps {
  me: string
  client: ImClient
  api: ConsoleApi
  /** is the page in front of the agent (reads are sent, alerts skipped, for the open chat) */
  watching?: () => boolean
}

/** closed and handed-away chats kept in "recently closed" */
const RECENT_LIMIT = 10

export class Desk extends Emitter<DeskEvents> {
  readonly me: string
  agent: AgentState | undefined
  /** the waiting queue: its head, and more when the agent asks [IM-SUPPORT-PAGE] */
  readonly queue: QueueState
  readonly chats = new Map<string, ChatState>()
  readonly pending = new Map<string, PendingView>()
  canned: CannedReply[] = []
  agents: AgentState[] = []
  selected: string | undefined
  /** the selected chat's visitor and its other chats */
  past: { visitor: string, chats: Conversation[] } | undefined
  /** a past chat opened read-only */
  viewing: PastChatView | undefined
  readonly #client: ImClient
  readonly #api: ConsoleApi
  readonly #watching: () => boolean
  readonly #offs: Array<() => void> = []
  readonly #typingTimers = new Map<string, ReturnType<typeof setTimeout>>()
  #agentRefresh: ReturnType<typeof setTimeout> | undefined
  /** the agent's conversations that are not support chats (direct, group): not the desk's */
  #others = new Set<string>()
  #synced = false

  constructor ({ me, client, api, watching = () => document.visibilityState === 'visible' }: DeskDeps) {
    super()
    this.me = me
    this.#client = client
    this.#api = api
    this.#watching = watching
    this.queue = new QueueState(async (limit, after) => await api.queue(limit, after), () => { this.#changed() }, (error) => { this.emit('problem', { error }) })
    const on = this.#offs.push.bind(this.#offs)
    on(client.on('connected', () => { void this.resync() }))
    on(client.on('message', (m) => { this.#onMessage(m) }))
    on(client.on('conv', (e) => { this.#onConv(e) }))
    on(client.on('read', (e) => { this.#onRead(e.cid, e.uid, e.seq) }))
    on(client.on('typing', (e) => { this.#onTyping(e.cid, e.uid, e.on) }))
    on(client.on('recall', (e) => { this.#patch(e.cid, e.seq, { body: null, recalledAt: e.recalledAt }) }))
    on(client.on('edit', (e) => { this.#patch(e.msg.cid, e.msg.seq, e.msg) }))
    on(client.on('support-queue', (e) => { this.queue.update(e) }))
    on(client.on('agent', (e) => { this.agent = e.agent; this.#changed() }))
    on(client.on('pending', (p) => { this.pending.set(p.cmid, p); this.#changed() }))
    on(client.on('sent', (m) => { this.pending.delete(m.cmid); this.#onMessage(m) }))
    on(client.on('failed', ({ pending }) => { this.pending.set(pending.cmid, { ...pending, failed: true }); this.#changed() }))
    on(client.on('error', (e) => { this.emit('problem', { error: e }) }))
  }

  dispose (): void {
    for (const off of this.#offs.splice(0)) off()
    for (const timer of this.#typingTimers.values()) clearTimeout(timer)
    clearTimeout(this.#agentRefresh)
    this.queue.dispose()
    this.removeAllListeners()
  }

  // ---- views ----

  /** The chats this agent owns now, oldest assignment first. */
  get activeChats (): ChatState[] { return activeChats(this.chats.values(), this.me) }

  /** Closed or handed-away chats, newest first. */
  get recentChats (): ChatState[] { return recentChats(this.chats.values(), this.me, RECENT_LIMIT) }

  get selectedChat (): ChatState | undefined {
    return this.selected === undefined ? undefined : this.chats.get(this.selected)
  }

  unread (chat: ChatState): number { return unreadCount(chat, this.me) }

  /** The title badge: unread visitor messages in own chats, plus chats not opened yet. */
  get attention (): number { return attention(this.activeChats, this.me) }

  pendingOf (cid: string): PendingView[] {
    return [...this.pending.values()].filter((p) => p.cid === cid).sort((a, b) => a.createdAt - b.createdAt)
  }

  // ---- actions ----

  async select (cid: string | undefined): Promise<void> {
    this.selected = cid
    this.viewing = undefined
    const chat = cid === undefined ? undefined : this.chats.get(cid)
    if (chat) chat.fresh = false
    this.#changed()
    if (!chat) return
    await this.#guard(async () => {
      if (!chat.loaded) await this.#loadHistory(chat)
      this.markRead()
      await this.#loadPast(chat.conv)
    })
  }

  /** Sends the agent's read position for the open chat when the page is in front. */
  markRead (): void {
    const chat = this.selectedChat
    if (!chat || !this.#watching()) return
    const top = chat.messages.at(-1)?.seq ?? 0
    if (top <= chat.myReadSeq) return
    chat.myReadSeq = top
    this.#changed()
    void this.#client.read(chat.conv.cid, top).catch(() => undefined)
  }

  async viewPast (cid: string): Promise<void> {
    await this.#guard(async () => {
      const conv = this.past?.chats.find((c) => c.cid === cid) ?? await this.#client.conversation(cid)
      this.viewing = { conv, messages: await fetchHistory(this.#client, cid, 0) }
      this.#changed()
    })
  }

  closePast (): void {
    this.viewing = undefined
    this.#changed()
  }

  send (cid: string, text: string): void {
    const body = text.trim()
    if (body === '') return
    // The outcome comes back as events: `pending`, then `sent` (the echo) or `failed`.
    this.#client.send(cid, body).catch(() => undefined)
    void this.#client.typing(cid, false).catch(() => undefined)
  }

  /** Sends a failed message again with its cmid (the server stores it once [IM-IDEM-1]). */
  retry (cmid: string): void {
    const failed = this.pending.get(cmid)
    if (!failed?.failed) return
    this.pending.delete(cmid)
    this.#client.send(failed.cid, failed.body, failed.type, { cmid }).catch(() => undefined)
    this.#changed()
  }

  typing (cid: string, on: boolean): void {
    void this.#client.typing(cid, on).catch(() => undefined)
  }

  /** Shows the next page of the waiting queue. */
  async showMoreQueue (): Promise<void> {
    await this.#guard(async () => { await this.queue.showMore() })
  }

  async claim (cid: string): Promise<void> {
    await this.#guard(async () => { await this.#client.support({ op: 'support.claim', cid }) })
  }

  /** To another agent, or back to the queue when `to` is undefined. */
  async transfer (cid: string, to?: string): Promise<void> {
    await this.#guard(async () => { await this.#client.support({ op: 'support.transfer', cid, ...(to !== undefined ? { to } : {}) }) })
  }

  async close (cid: string): Promise<void> {
    await this.#guard(async () => { await this.#client.support({ op: 'support.close', cid }) })
  }

  async setStatus (status: AgentStatus, capacity?: number): Promise<void> {
    await this.#guard(async () => {
      const wasListening = this.agent !== undefined && this.agent.status !== 'offline'
      this.agent = await this.#api.setStatus(status, capacity)
      this.#changed()
      // Offline agents get no queue updates: catch up when coming back.
      if (!wasListening && status !== 'offline') await this.#refreshQueue()
    })
  }

  /** Other agents a chat can go to: not offline, with a free slot. */
  async loadAgents (): Promise<void> {
    await this.#guard(async () => {
      this.agents = (await this.#api.agents()).filter((a) => a.uid !== this.me && a.status !== 'offline' && a.active.length < a.capacity)
      this.#changed()
    })
  }

  /** Everything again, after each (re)connect. */
  async resync (): Promise<void> {
    await this.#guard(async () => {
      await Promise.all([
        this.#api.me().then((agent) => { this.agent = agent }),
        this.#refreshQueue(),
        this.canned.length === 0 ? this.#api.canned().then((replies) => { this.canned = replies }) : Promise.resolve(),
        this.#refreshChats()
      ])
      this.#synced = true
      this.#changed()
      this.markRead()
      const chat = this.selectedChat
      if (chat) await this.#loadPast(chat.conv)
    })
  }

  // ---- events ----

  #onMessage (message: Message): void {
    const chat = this.chats.get(message.cid)
    if (!chat) {
      // A chat this console has not heard of (e.g. assigned while the event was lost): list again.
      if (this.#synced && !this.#others.has(message.cid)) void this.#guard(async () => { await this.#refreshChats() })
      return
    }
    const fresh = mergeMessages(chat, [message])
    if (fresh.length === 0) return
    if (message.from === chat.conv.support?.visitor) {
      chat.typingUntil = 0
      const looking = this.selected === chat.conv.cid && this.#watching()
      if (looking) this.markRead()
      else if (isMine(chat, this.me)) this.emit('alert', { kind: 'message', cid: chat.conv.cid, name: visitorName(chat.conv), ...(message.body && 'text' in message.body ? { text: message.body.text } : {}) })
    }
    this.#changed()
  }

  #onConv (event: ConvEvent): void {
    const conv = event.conv
    if (conv.kind !== 'support' || !conv.support) return
    const known = this.chats.get(conv.cid)
    const chat = known ?? newChat(conv, this.me)
    chat.conv = plainConversation(conv)
    chat.peerReadSeq = Math.max(chat.peerReadSeq, visitorReadSeq(conv))
    if (!known) this.chats.set(conv.cid, chat)
    const toMe = conv.support.state === 'active' && conv.support.agent === this.me
    if ((event.type === 'assigned' || event.type === 'transferred') && toMe) {
      chat.handedTo = undefined
      chat.fresh = this.selected !== conv.cid
      this.emit('alert', { kind: 'assigned', cid: conv.cid, name: visitorName(conv) })
      void this.#guard(async () => { await this.#loadHistory(chat) })
    } else if (event.type === 'transferred' && event.uid === this.me) {
      chat.handedTo = conv.support.agent ?? null
      chat.fresh = false
    }
    if (event.type === 'closed' && this.past?.visitor === conv.support.visitor) {
      void this.#guard(async () => { await this.#loadPast(conv) })
    }
    // The agent's own record (its active chats) changed with it; the broker sends `agent` events
    // for status changes only.
    if (toMe || event.uid === this.me || known) this.#refreshAgentSoon()
    this.#changed()
  }

  #refreshAgentSoon (): void {
    clearTimeout(this.#agentRefresh)
    this.#agentRefresh = setTimeout(() => {
      void this.#guard(async () => { this.agent = await this.#api.me(); this.#changed() })
    }, 100)
  }

  #onRead (cid: string, uid: string, seq: number): void {
    const chat = this.chats.get(cid)
    if (!chat) return
    if (uid === this.me) chat.myReadSeq = Math.max(chat.myReadSeq, seq)
    else if (uid === chat.conv.support?.visitor) chat.peerReadSeq = Math.max(chat.peerReadSeq, seq)
    this.#changed()
  }

  #onTyping (cid: string, uid: string, on: boolean): void {
    const chat = this.chats.get(cid)
    if (!chat || uid === this.me) return
    clearTimeout(this.#typingTimers.get(cid))
    // [IM-EV-TYPING] the indicator goes by itself when no renewal comes.
    chat.typingUntil = on ? Date.now() + TYPING_TTL_MS : 0
    if (on) this.#typingTimers.set(cid, setTimeout(() => { chat.typingUntil = 0; this.#changed() }, TYPING_TTL_MS))
    this.#changed()
  }

  #patch (cid: string, seq: number, change: Partial<Message>): void {
    const chat = this.chats.get(cid)
    if (!chat) return
    chat.messages = chat.messages.map((m) => m.seq === seq ? { ...m, ...change } : m)
    this.#changed()
  }

  // ---- loading ----

  async #refreshQueue (): Promise<void> {
    await this.queue.reload()
  }

  /** The agent's support chats from the server, and the history of the ones it owns. */
  async #refreshChats (): Promise<void> {
    const all = await this.#client.conversations()
    this.#others = new Set(all.filter((c) => c.kind !== 'support').map((c) => c.cid))
    const list = all.filter((c) => c.kind === 'support' && c.support)
    const listed = new Set<string>()
    for (const summary of list) {
      listed.add(summary.cid)
      const known = this.chats.get(summary.cid)
      const chat = known ?? newChat(summary, this.me)
      chat.conv = plainConversation(summary)
      chat.myReadSeq = Math.max(chat.myReadSeq, summary.members.find((m) => m.uid === this.me)?.readSeq ?? 0)
      chat.peerReadSeq = Math.max(chat.peerReadSeq, visitorReadSeq(summary))
      chat.unreadHint = summary.unread
      if (isMine(chat, this.me)) chat.handedTo = undefined
      if (!known) {
        this.chats.set(summary.cid, chat)
        // Assigned while this console was away: tell the agent like a live assignment.
        if (this.#synced && isMine(chat, this.me)) { chat.fresh = true; this.emit('alert', { kind: 'assigned', cid: chat.conv.cid, name: visitorName(chat.conv) }) }
      }
    }
    // Chats it held that are no longer its own (handed away, requeued while it was offline).
    for (const chat of this.chats.values()) {
      if (listed.has(chat.conv.cid) || chat.handedTo !== undefined) continue
      const conv = await this.#client.conversation(chat.conv.cid).catch(() => undefined)
      if (conv) chat.conv = plainConversation(conv)
      if (conv?.support?.agent !== this.me) chat.handedTo = conv?.support?.agent ?? null
    }
    await Promise.all([...this.chats.values()]
      .filter((c) => isMine(c, this.me) || c.loaded || c.conv.cid === this.selected)
      .map(async (c) => { await this.#loadHistory(c) }))
  }

  /** Fetches what the chat misses: everything the first time, then from its first gap on. */
  async #loadHistory (chat: ChatState): Promise<void> {
    const messages = await fetchHistory(this.#client, chat.conv.cid, contiguousSeq(chat))
    mergeMessages(chat, messages)
    chat.loaded = true
    this.#changed()
  }

  async #loadPast (conv: Conversation): Promise<void> {
    const visitor = conv.support?.visitor
    if (!visitor) return
    const chats = await this.#api.visitorChats(visitor)
    this.past = { visitor, chats: chats.filter((c) => c.cid !== conv.cid) }
    this.#changed()
  }

  async #guard (work: () => Promise<void>): Promise<void> {
    try {
      await work()
    } catch (error) {
      this.emit('problem', { error })
    }
  }

  #changed (): void {
    this.emit('change', undefined)
  }
}
