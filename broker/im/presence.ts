/**
 * Presence from connections: a principal is online while any of its connections is open. A
 * connection lost without DISCONNECT ends when aedes' keepalive runs out. Changes go out retained on
 * `im/p/{uid}` and as `presence` events to everyone sharing a conversation — one the principal
 * accepted, not an invitation still pending. [IM-PRESENCE-1]
 *
 * Several nodes (`directory`): each node records in the store which principals have connections
 * on it, and announces a change only when no other live node has a connection of the principal —
 * so a user moving between nodes stays online, and a second tab on another node says nothing.
 * After an "offline" it looks again: a connection that came up on another node while it was
 * announcing gets its "online" back on top. A dead node's principals go offline through
 * `nodeGone`, once its lease ran out (cluster/membership.ts).
 */
import type { Aedes, Client } from 'aedes'
import type { PresenceState } from '../../shared/protocol.js'
import type { Logger } from '../ops/logger.js'
import type { ConversationStore } from '../store/ports.js'
import type { EventPublisher } from './events.js'

/** Where the principals' connections are, across the broker nodes sharing the store. */
export interface PresenceDirectory {
  /** records that this node has (or no longer has) connections of `uid` */
  here (uid: string, present: boolean): Promise<void>
  /** whether `uid` has connections on another live node */
  elsewhere (uid: string): Promise<boolean>
}

export interface PresenceDeps {
  aedes: Aedes
  /** where retained messages live (aedes' persistence) */
  retained: { createRetainedStream (pattern: string): AsyncIterable<unknown> }
  uidOf: (client: Client) => string | undefined
  conversations: ConversationStore
  events: EventPublisher
  log: Logger
  now: () => number
  /** several nodes: where else the principals are connected (absent: this node is alone) */
  directory?: PresenceDirectory
}

export class PresenceTracker {
  readonly #deps: PresenceDeps
  readonly #connections = new Map<string, Set<Client>>()
  /** the last announcement per uid, so a quick flap is announced in order */
  #announcing: Promise<void> = Promise.resolve()
  #stopped = false

  constructor (deps: PresenceDeps) {
    this.#deps = deps
    deps.aedes.on('clientReady', (client) => this.#connected(client))
    deps.aedes.on('clientDisconnect', (client) => this.#disconnected(client))
  }

  /** Connected to this node. */
  isOnline (uid: string): boolean {
    return (this.#connections.get(uid)?.size ?? 0) > 0
  }

  /** Connected to this node or to another live one. */
  async online (uid: string): Promise<boolean> {
    return this.isOnline(uid) || (await this.#deps.directory?.elsewhere(uid) ?? false)
  }

  /** The principals that had connections on a node that died: offline unless connected elsewhere. */
  nodeGone (uids: readonly string[]): void {
    for (const uid of uids) this.#announce(uid, false)
  }

  /**
   * At start: retained "online" states nobody backs any more (left by the last run, or by a node
   * that died meanwhile) are reset; a principal connected to another live node stays online.
   */
  async resetStale (): Promise<void> {
    const stale: string[] = []
    const retained = this.#deps.retained.createRetainedStream('im/p/+') as AsyncIterable<{ topic: string, payload: Buffer }>
    for await (const packet of retained) {
      try {
        if ((JSON.parse(packet.payload.toString()) as PresenceState).online) stale.push(packet.topic.slice('im/p/'.length))
      } catch { /* not ours */ }
    }
    await Promise.all(stale.map(async (uid) => {
      if (await this.online(uid)) return
      await this.#deps.events.presence(uid, { online: false, ts: this.#deps.now() })
    }))
  }

  /** Stops announcing (shutdown: the next start resets everyone to offline) and waits for what is under way. */
  async stop (): Promise<void> {
    this.#stopped = true
    await this.#announcing
  }

  #connected (client: Client): void {
    const uid = this.#deps.uidOf(client)
    if (!uid) return
    const set = this.#connections.get(uid) ?? new Set()
    set.add(client)
    this.#connections.set(uid, set)
    if (set.size === 1) this.#announce(uid, true)
  }

  #disconnected (client: Client): void {
    const uid = this.#deps.uidOf(client)
    const set = uid ? this.#connections.get(uid) : undefined
    if (!uid || !set?.delete(client)) return
    if (set.size === 0) {
      this.#connections.delete(uid)
      this.#announce(uid, false)
    }
  }

  #announce (uid: string, online: boolean): void {
    this.#announcing = this.#announcing.then(async () => {
      if (this.#stopped || this.isOnline(uid) !== online) return // already flipped back; the next announcement says so
      const directory = this.#deps.directory
      if (directory) {
        await directory.here(uid, online)
        if (await directory.elsewhere(uid)) return // another node has it online, and said so
      }
      await this.#publish(uid, online)
      if (!online && directory && await directory.elsewhere(uid)) await this.#publish(uid, true)
    }).catch((err: unknown) => { this.#deps.log.error({ err, uid }, 'presence announcement failed') })
  }

  async #publish (uid: string, online: boolean): Promise<void> {
    const state = { online, ts: this.#deps.now() }
    await this.#deps.events.presence(uid, state)
    const contacts = new Set<string>()
    for (const cid of await this.#deps.conversations.cidsOf(uid)) {
      const conv = await this.#deps.conversations.get(cid)
      // An invitee's presence goes out only once it accepted: before, it would tell the inviter
      // that the uid exists. A held invitee hears nothing. [IM-CONV-2]
      if (conv?.members.find((m) => m.uid === uid)?.pending === true) continue
      for (const m of conv?.members ?? []) if (m.uid !== uid && m.held !== true) contacts.add(m.uid)
    }
    await this.#deps.events.toInboxes(contacts, { ev: 'presence', uid, ...state })
  }
}
