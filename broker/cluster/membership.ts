/**
 * Which broker nodes are alive, and which one runs the cluster's timers.
 *
 * Each node holds a lease in the store (`NodeStore`) and renews it every third of
 * `NODE_LEASE_MS`. A node whose lease ran out is dead — killed, frozen or cut off from the
 * database — and the leader deals with what it left: its users' presence and its sessions'
 * records (`onNodeDead`), then forgets it. A node that stops on purpose gives its lease up, so
 * the others deal with it at once.
 *
 * The leader is the oldest live node (by start time, then id): it alone runs the timers that
 * must fire once for the whole cluster — idle release, agent away, session expiry. Two nodes may
 * both believe they lead for one beat (a leader back from a pause longer than its lease); the
 * desk's decisions are atomic in the store, so the worst is a sweep done twice.
 *
 * One node alone (no cluster emitter, so nobody can share its store): it is the leader, every
 * other node recorded in the store is dead, and nothing is written per beat.
 */
import type { PresenceDirectory } from '../im/presence.js'
import type { Logger } from '../ops/logger.js'
import type { NodeRecord, NodeStore } from '../store/ports.js'

export interface MembershipDeps {
  store: NodeStore
  /** this node's id (aedes' broker id) */
  node: string
  leaseMs: number
  alone: boolean
  now: () => number
  log: Logger
  /** run by the leader for each dead node, before the node is forgotten */
  onNodeDead: (node: string) => Promise<void>
  /** after each beat: the live nodes seen, and whether this one leads */
  onBeat?: (liveNodes: number, leader: boolean) => void
}

export class Membership {
  readonly #deps: MembershipDeps
  readonly #startedAt: number
  /** the live nodes as of the last beat (this one always included) */
  #live = new Set<string>()
  #leader = false
  #timer: NodeJS.Timeout | undefined
  #beating: Promise<void> = Promise.resolve()

  constructor (deps: MembershipDeps) {
    this.#deps = deps
    this.#startedAt = deps.now()
    this.#live.add(deps.node)
    this.#leader = deps.alone
  }

  get node (): string { return this.#deps.node }
  get alone (): boolean { return this.#deps.alone }

  /** Whether this node runs the cluster's timers now. */
  isLeader (): boolean { return this.#leader }

  /** How many nodes held a live lease at the last beat, this one included. */
  get liveCount (): number { return this.#live.size }

  /** Whether `node` held a live lease at the last beat. */
  isLive (node: string): boolean { return this.#live.has(node) }

  /** Takes the lease and deals with the nodes found dead; then beats on a timer. */
  async start (): Promise<void> {
    await this.beat()
    if (this.#deps.alone) return
    this.#timer = setInterval(() => { void this.beat() }, Math.max(100, Math.floor(this.#deps.leaseMs / 3)))
    this.#timer.unref()
  }

  /** Gives the lease up: the others see this node dead at their next beat. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    await this.#beating
    if (this.#deps.alone) return
    await this.#deps.store.renew({ node: this.#deps.node, startedAt: this.#startedAt, expiresAt: 0 })
      .catch((err: unknown) => { this.#deps.log.warn({ err }, 'could not give the node lease up; it runs out by itself') })
  }

  /** One renewal and look around; one at a time. */
  async beat (): Promise<void> {
    this.#beating = this.#beating.then(async () => { await this.#beat() }).catch((err: unknown) => {
      this.#deps.log.warn({ err }, 'node lease not renewed; trying again')
    })
    await this.#beating
  }

  async #beat (): Promise<void> {
    const now = this.#deps.now()
    const self: NodeRecord = { node: this.#deps.node, startedAt: this.#startedAt, expiresAt: now + this.#deps.leaseMs }
    if (!this.#deps.alone) await this.#deps.store.renew(self)
    const others = (await this.#deps.store.list()).filter((n) => n.node !== self.node)
    const live = others.filter((n) => !this.#deps.alone && n.expiresAt > now)
    const dead = others.filter((n) => this.#deps.alone || n.expiresAt <= now)
    this.#live = new Set([self.node, ...live.map((n) => n.node)])
    const wasLeader = this.#leader
    this.#leader = [self, ...live].sort((a, b) => a.startedAt - b.startedAt || (a.node < b.node ? -1 : 1))[0]!.node === self.node
    if (this.#leader && !wasLeader) this.#deps.log.info({ node: self.node, nodes: this.#live.size }, 'this node now runs the cluster timers')
    this.#deps.onBeat?.(this.#live.size, this.#leader)
    if (!this.#leader) return
    for (const node of dead) {
      this.#deps.log.info({ node: node.node, leaseEndedMsAgo: now - node.expiresAt }, 'broker node gone: its connections go offline')
      await this.#deps.onNodeDead(node.node)
      await this.#deps.store.remove(node.node)
    }
  }
}

/** Presence across nodes (im/presence.ts), kept in the store next to the leases. */
export function presenceDirectory (store: NodeStore, membership: Membership): PresenceDirectory {
  return {
    here: async (uid, present) => { await store.setPresent(uid, membership.node, present) },
    elsewhere: async (uid) => (await store.nodesOf(uid)).some((node) => node !== membership.node && membership.isLive(node))
  }
}
