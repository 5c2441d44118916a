/**
 * Idle release and agent absence, decided from stored timestamps — never by an in-memory timer
 * alone, so a restart rebuilds every countdown. [IM-SUPPORT-IDLE]
 *
 * - Any traffic from a visitor's connections (CONNECT, PUBLISH, SUBSCRIBE, keepalive PINGREQ)
 *   moves its `seen` time. When no chat of it has seen traffic for `idleReleaseMs`, the chat is
 *   closed with reason `idle` and the agent's slot goes to the next visitor.
 * - Optionally (`silenceReleaseMs` > 0) a connected visitor who has sent no message for that long
 *   is released with reason `silence`.
 * - An agent with no connection for `awayGraceMs` becomes `away`; after `requeueMs` (if > 0) its
 *   chats go back to the head of the queue.
 * - The broker writes a heartbeat; after a restart every countdown is shifted by the downtime,
 *   so time the broker was down does not count against anyone.
 *
 * Several nodes: the timers live in the store, and only the cluster's leader sweeps
 * (cluster/membership.ts); "connected" means connected to any live node. A visitor whose node
 * died counts from its last traffic that node stored (at most `persistEveryMs` old), so it is
 * released on time; an agent whose node died is away `awayGraceMs` after its node's lease ran out.
 * The leader also frees claims and slots a node left behind when it died mid-assignment.
 *
 * In memory, a visitor's latest traffic is kept while it has a connection on this node; once its
 * last one is gone and that moment is stored, the store answers for it and the entry goes (kept
 * for every visitor ever seen, they grew with every visit, for good).
 */
import type { Aedes, Client } from 'aedes'
import type { Role } from '../../shared/identity.js'
import type { Conversation } from '../../shared/protocol.js'
import type { Logger } from '../ops/logger.js'
import type { ConversationStore, MessageStore, SupportStore } from '../store/ports.js'
import type { SupportDesk } from './desk.js'

/** how often the leader looks for claims and slots left by a node that died mid-assignment */
const RECONCILE_EVERY_MS = 10_000

export interface IdleReleaseDeps {
  aedes: Aedes
  whoIs: (client: Client) => { uid?: string, role?: Role } | undefined
  /** connected to this node */
  isOnline: (uid: string) => boolean
  /** connected to this node or to another live one */
  online: (uid: string) => Promise<boolean>
  /** whether this node runs the cluster's timers now (always, alone) */
  sweepsHere: () => boolean
  desk: SupportDesk
  conversations: ConversationStore
  messages: MessageStore
  support: SupportStore
  log: Logger
  now: () => number
  idleReleaseMs: number
  silenceReleaseMs: number
  awayGraceMs: number
  requeueMs: number
}

export class IdleRelease {
  readonly #deps: IdleReleaseDeps
  readonly #seen = new Map<string, number>()
  readonly #persisted = new Map<string, number>()
  readonly #persistEveryMs: number
  readonly #sweepEveryMs: number
  #timer: NodeJS.Timeout | undefined
  #reconciledAt = 0
  #sweeping: Promise<void> = Promise.resolve()

  constructor (deps: IdleReleaseDeps) {
    this.#deps = deps
    this.#sweepEveryMs = Math.max(50, Math.min(1000, Math.floor(deps.idleReleaseMs / 10)))
    this.#persistEveryMs = Math.max(50, Math.min(5000, Math.floor(deps.idleReleaseMs / 5)))
    const touch = (client: Client | null): void => { if (client) this.#touch(client, false) }
    deps.aedes.on('clientReady', touch)
    deps.aedes.on('ping', (_packet, client) => touch(client))
    deps.aedes.on('publish', (_packet, client) => touch(client))
    deps.aedes.on('subscribe', (_subs, client) => touch(client))
    // The countdown starts when the last connection goes: that moment is always stored.
    deps.aedes.on('clientDisconnect', (client) => this.#touch(client, true))
  }

  /** Shifts the stored countdowns by the downtime since the last heartbeat, then sweeps on a timer. */
  async start (): Promise<void> {
    const now = this.#deps.now()
    const alive = await this.#deps.support.aliveAt()
    // a node joining a running cluster is not its leader: the countdowns were kept meanwhile
    const downtime = alive === undefined || !this.#deps.sweepsHere() ? 0 : Math.max(0, now - alive)
    if (downtime > 0) {
      for (const conv of await this.#open()) {
        const visitor = conv.support!.visitor
        const seen = await this.#deps.support.seen(visitor) ?? conv.support!.queuedAt
        await this.#deps.support.setSeen(visitor, seen + downtime)
      }
      for (const agent of await this.#deps.support.listAgents()) {
        if (agent.disconnectedAt !== undefined) await this.#deps.support.patchAgent(agent.uid, { disconnectedAt: agent.disconnectedAt + downtime })
      }
      this.#deps.log.info({ downtimeMs: downtime }, 'support countdowns resumed after downtime')
    }
    if (this.#deps.sweepsHere()) await this.#deps.support.setAliveAt(now)
    await this.#reconcile(now)
    this.#timer = setInterval(() => { void this.sweep() }, this.#sweepEveryMs)
    this.#timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    await this.#sweeping
  }

  /** One pass over open chats and agents. Runs one at a time. */
  async sweep (): Promise<void> {
    this.#sweeping = this.#sweeping.then(async () => { await this.#sweep() }).catch((err: unknown) => { this.#deps.log.error({ err }, 'support sweep failed') })
    await this.#sweeping
  }

  async #sweep (): Promise<void> {
    if (!this.#deps.sweepsHere()) return
    const now = this.#deps.now()
    await this.#deps.support.setAliveAt(now)
    if (now - this.#reconciledAt >= RECONCILE_EVERY_MS) await this.#reconcile(now)
    for (const conv of await this.#open()) {
      const support = conv.support!
      const seen = await this.#lastSeen(support.visitor, support.queuedAt)
      if (now - seen > this.#deps.idleReleaseMs) {
        this.#deps.log.info({ cid: conv.cid, visitor: support.visitor, silentMs: now - seen }, 'idle release: visitor gone')
        await this.#deps.desk.close('system', conv.cid, 'idle')
      } else if (this.#deps.silenceReleaseMs > 0 && support.state === 'active' && now - await this.#lastWords(conv) > this.#deps.silenceReleaseMs) {
        await this.#deps.desk.close('system', conv.cid, 'silence')
      }
    }
    await this.#sweepAgents(now)
  }

  async #sweepAgents (now: number): Promise<void> {
    for (const agent of await this.#deps.support.listAgents()) {
      if (agent.status === 'offline') continue
      if (await this.#deps.online(agent.uid)) {
        if (agent.disconnectedAt !== undefined || agent.autoAway) {
          await this.#deps.desk.patchAgent(agent.uid, { ...(agent.autoAway ? { status: 'online' } : {}), disconnectedAt: null, autoAway: null })
          if (agent.autoAway) await this.#deps.desk.rebalance()
        }
        continue
      }
      if (agent.disconnectedAt === undefined) {
        await this.#deps.desk.patchAgent(agent.uid, { disconnectedAt: now })
        continue
      }
      const gone = now - agent.disconnectedAt
      if (agent.status === 'online' && gone > this.#deps.awayGraceMs) {
        this.#deps.log.info({ agent: agent.uid, goneMs: gone }, 'agent away: no connection')
        await this.#deps.desk.patchAgent(agent.uid, { status: 'away', autoAway: true })
      }
      if (this.#deps.requeueMs > 0 && gone > this.#deps.requeueMs) {
        for (const cid of agent.active) await this.#deps.desk.transfer({ uid: agent.uid, role: 'agent' }, cid)
      }
    }
  }

  /** Claims and slots a dead node left behind are freed (they block nothing but the chats they name). */
  async #reconcile (now: number): Promise<void> {
    this.#reconciledAt = now
    await this.#deps.desk.reconcile()
  }

  /** When the visitor last showed traffic: in memory while connected here, else as stored. */
  async #lastSeen (uid: string, fallback: number): Promise<number> {
    if (this.#deps.isOnline(uid)) return this.#seen.get(uid) ?? this.#deps.now()
    return Math.max(this.#seen.get(uid) ?? 0, await this.#deps.support.seen(uid) ?? fallback)
  }

  async #lastWords (conv: Conversation): Promise<number> {
    const recent = await this.#deps.messages.before(conv.cid, conv.lastSeq + 1, 50)
    const own = recent.filter((m) => m.from === conv.support!.visitor).at(-1)
    return Math.max(own?.ts ?? 0, conv.support!.assignedAt ?? conv.support!.queuedAt)
  }

  /** Visitors whose latest traffic is kept in memory here (for `im_memory_entries`). */
  get trackedVisitors (): number {
    return this.#seen.size
  }

  /** `left`: the client disconnected (that moment is always stored). */
  #touch (client: Client, left: boolean): void {
    const who = this.#deps.whoIs(client)
    if (who?.role !== 'visitor' || !who.uid) return
    const uid = who.uid
    const now = this.#deps.now()
    this.#seen.set(uid, now)
    if (!left && now - (this.#persisted.get(uid) ?? 0) < this.#persistEveryMs) return
    this.#persisted.set(uid, now)
    this.#deps.support.setSeen(uid, now).then(() => {
      // Its last connection here is gone and stored: forget it, unless it came back meanwhile.
      if (left && !this.#deps.isOnline(uid) && this.#seen.get(uid) === now) {
        this.#seen.delete(uid)
        this.#persisted.delete(uid)
      }
    }, (err: unknown) => { this.#deps.log.warn({ err }, 'could not store visitor activity') })
  }

  async #open (): Promise<Conversation[]> {
    const convs = await Promise.all((await this.#deps.support.openCids()).map(async (cid) => await this.#deps.conversations.get(cid)))
    return convs.filter((c): c is Conversation => c?.support !== undefined && c.support.state !== 'closed')
  }
}
