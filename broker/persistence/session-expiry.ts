/**
 * Persistent sessions expire. MQTT 3.1.1 leaves a session's lifetime to the server; kept forever,
 * every visitor tab's session (its subscription, the events queued after it left, its retained
 * presence) piles up at the rate visitors arrive. So: [IM-SESSION-1]
 *
 * - every persistent session (clean=false) has a record: who owns it, whether it is connected,
 *   when it last connected or disconnected;
 * - a session nobody resumed for its role's expiry (`SESSION_EXPIRY_VISITOR_SECONDS` for visitors,
 *   `SESSION_EXPIRY_SECONDS` for everyone else) is dropped by a background sweep: subscriptions,
 *   queue, will, record; and when it was its owner's last session and the owner is offline, the
 *   owner's retained presence goes too. A connected session never expires.
 * - A client that comes back after that starts a new session (CONNACK session present 0) and
 *   recovers its messages from history by seq, as after any gap.
 *
 * The record also answers whether a session exists at CONNECT (session present [MQTT-3.2.2-2]),
 * also for a session without subscriptions, which aedes alone reports as absent.
 */
import type { Aedes, Client } from 'aedes'
import type { Role } from '../../shared/identity.js'
import { topics } from '../../shared/topics.js'
import { KeyedLock } from '../lib/keyed-lock.js'
import type { Logger } from '../ops/logger.js'
import type { SessionRecord, SessionStore } from '../store/ports.js'

export interface SessionPersistence {
  dropSession (clientId: string): Promise<void>
  storedClientIds (): Promise<Set<string>>
  storeRetained (packet: { topic: string, payload: Buffer, retain: boolean, qos: number, cmd: 'publish' }): Promise<void>
}

export interface SessionExpiryDeps {
  aedes: Aedes
  store: SessionStore
  persistence: SessionPersistence
  whoIs: (client: Client) => { uid?: string, role?: Role } | undefined
  /** connected to this node or another live one */
  online: (uid: string) => Promise<boolean>
  /** this node's id, kept in the records of the sessions connected here */
  node: string
  /** whether a node holds a live lease (cluster/membership.ts); this one always does */
  isLive: (node: string) => boolean
  /** whether this node runs the sweep now (the cluster's leader; always, alone) */
  sweepsHere: () => boolean
  /** how long an unused session of this role is kept */
  expiryMs: (role: Role | undefined) => number
  sweepMs: number
  now: () => number
  log: Logger
  onExpired?: (role: Role | 'unknown') => void
  onSwept?: (kept: number) => void
}

export class SessionExpiry {
  readonly #deps: SessionExpiryDeps
  readonly #lock = new KeyedLock()
  #timer: NodeJS.Timeout | undefined
  #sweeping: Promise<void> = Promise.resolve()
  #writes = new Set<Promise<void>>()
  /** connections closed because their client id connected to another broker node */
  readonly #movedAway = new WeakSet<Client>()

  constructor (deps: SessionExpiryDeps) {
    this.#deps = deps
    deps.aedes.on('clientReady', (client) => { this.#track(this.#connected(client)) })
    deps.aedes.on('clientDisconnect', (client) => { this.#track(this.#disconnected(client)) })
    // A client id that connects to another node has its connection here closed by aedes
    // (aedes.js `closeSameClients`, on `$SYS/{node}/new/clients`) [MQTT-3.1.4-2]. That node records
    // the session as connected; this close must not record it as disconnected after it.
    deps.aedes.subscribe('$SYS/+/new/clients', (packet, done) => { this.#connectedElsewhere(packet.topic, String(packet.payload)); done() }, () => {})
  }

  /**
   * After a restart: nobody is connected here, so every record of a session connected to a node
   * that is not alive (this one before the restart, a dead one) is offline from now; the sessions
   * of other live nodes stay as they are. A store kept by a version without records has none at
   * all: its sessions are adopted then, once (their owner unknown) — not on every start, which
   * would read every stored subscription and queued message again. Then the sweep starts.
   */
  async start (): Promise<void> {
    const now = this.#deps.now()
    let records = 0
    for await (const record of this.#deps.store.list()) {
      records++
      if (record.online && !(record.node !== undefined && this.#deps.isLive(record.node))) await this.#offline(record, now)
    }
    if (records === 0) {
      for (const clientId of await this.#deps.persistence.storedClientIds()) await this.#deps.store.put({ clientId, online: false, lastSeen: now })
    }
    this.#timer = setInterval(() => { void this.sweep() }, this.#deps.sweepMs)
    this.#timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    await this.#sweeping
    await Promise.allSettled([...this.#writes])
  }

  /** Does a session exist for this client id? Waits for a drop of it under way. [MQTT-3.2.2-2] */
  async exists (clientId: string): Promise<boolean> {
    return await this.#lock.run(clientId, async () => await this.#deps.store.get(clientId) !== undefined)
  }

  /** The sessions that were connected to a node that died are disconnected from now. */
  async nodeGone (node: string): Promise<void> {
    const now = this.#deps.now()
    for await (const record of this.#deps.store.list()) {
      if (record.online && record.node === node) await this.#lock.run(record.clientId, async () => { await this.#offline(record, now) })
    }
  }

  /**
   * Drops every stored session of a deleted principal — subscriptions, queued events, record —
   * so that a principal created later under the same uid, with the same client id, starts a new
   * session instead of receiving the old one's events. [IM-AUTH-8] Reads every record: a
   * deletion is rare.
   */
  async dropSessionsOf (uid: string): Promise<void> {
    for await (const seen of this.#deps.store.list()) {
      if (seen.uid !== uid) continue
      await this.#lock.run(seen.clientId, async () => {
        if ((await this.#deps.store.get(seen.clientId))?.uid !== uid) return
        await this.#deps.persistence.dropSession(seen.clientId)
        await this.#deps.store.delete(seen.clientId)
      })
    }
  }

  async #offline (record: SessionRecord, now: number): Promise<void> {
    const { node: _node, ...rest } = record
    await this.#deps.store.put({ ...rest, online: false, lastSeen: now })
  }

  /** Drops every session unused for longer than its role's expiry; resolves when done. */
  async sweep (): Promise<void> {
    if (!this.#deps.sweepsHere()) return
    const run = this.#sweeping.then(async () => { await this.#sweep() }).catch((err: unknown) => {
      this.#deps.log.error({ err }, 'session sweep failed; the next one tries again')
    })
    this.#sweeping = run
    await run
  }

  async #sweep (): Promise<void> {
    const kept = new Set<string>()
    const gone = new Set<string>()
    let count = 0
    for await (const record of this.#deps.store.list()) {
      if (await this.#expire(record)) {
        if (record.uid) gone.add(record.uid)
      } else {
        count++
        if (record.uid) kept.add(record.uid)
      }
    }
    for (const uid of gone) {
      if (kept.has(uid) || await this.#deps.online(uid)) continue
      // Its last session is gone and it is not here: its retained presence goes too.
      await this.#deps.persistence.storeRetained({ cmd: 'publish', topic: topics.presence(uid), payload: Buffer.alloc(0), retain: true, qos: 0 })
    }
    this.#deps.onSwept?.(count)
  }

  async #expire (seen: SessionRecord): Promise<boolean> {
    if (seen.online || this.#deps.now() - seen.lastSeen <= this.#deps.expiryMs(seen.role)) return false
    return await this.#lock.run(seen.clientId, async () => {
      // Read again under the lock: the client may have come back meanwhile.
      const record = await this.#deps.store.get(seen.clientId)
      if (!record || record.online || this.#connectedNow(record.clientId)) return false
      if (this.#deps.now() - record.lastSeen <= this.#deps.expiryMs(record.role)) return false
      await this.#deps.persistence.dropSession(record.clientId)
      await this.#deps.store.delete(record.clientId)
      this.#deps.onExpired?.(record.role ?? 'unknown')
      this.#deps.log.info({ clientId: record.clientId, uid: record.uid, role: record.role, idleSeconds: Math.round((this.#deps.now() - record.lastSeen) / 1000) }, 'persistent session expired')
      return true
    })
  }

  /**
   * An accepted CONNECT, before its CONNACK (hooks/adapt.ts, once authenticated). aedes says a
   * connection is ready (`clientReady`) only after it has streamed the stored queue, so long after
   * the CONNACK when the queue is long: a clean session discarded there let a persistent CONNECT
   * that came right after be told its session was present, and be sent what the clean one had
   * discarded. Here, in the order the CONNECTs of a client id come: a clean one discards the
   * earlier session — queue, will, record — [MQTT-3.1.2-6]; a persistent one has a record from
   * now on [MQTT-3.2.2-2], marked connected once the connection is ready.
   */
  async connecting (client: Client): Promise<void> {
    await this.#lock.run(client.id, async () => {
      const record = await this.#deps.store.get(client.id)
      if (client.clean) {
        if (record === undefined) return
        await this.#deps.persistence.dropSession(client.id)
        await this.#deps.store.delete(client.id)
        return
      }
      if (record === undefined) await this.#deps.store.put({ ...this.#owner(client), online: false, lastSeen: this.#deps.now() })
    })
  }

  async #connected (client: Client): Promise<void> {
    if (client.clean) return // its CONNECT discarded any earlier session (connecting)
    await this.#lock.run(client.id, async () => {
      // Closed or taken over before it was ready (its queue streams first): not the session any more.
      if (!this.#isCurrent(client)) return
      await this.#deps.store.put({ ...this.#owner(client), online: true, lastSeen: this.#deps.now(), node: this.#deps.node })
    })
  }

  #owner (client: Client): Pick<SessionRecord, 'clientId' | 'uid' | 'role'> {
    const who = this.#deps.whoIs(client)
    return { clientId: client.id, ...(who?.uid ? { uid: who.uid } : {}), ...(who?.role ? { role: who.role } : {}) }
  }

  async #disconnected (client: Client): Promise<void> {
    if (client.clean || this.#movedAway.has(client)) return
    await this.#lock.run(client.id, async () => {
      // Taken over by a newer connection with the same id: that one is the session now.
      if (this.#connectedNow(client.id, client)) return
      const record = await this.#deps.store.get(client.id)
      if (record) await this.#offline(record, this.#deps.now())
    })
  }

  #connectedElsewhere (topic: string, clientId: string): void {
    if (topic.split('/')[1] === this.#deps.aedes.id) return
    const here = (this.#deps.aedes as unknown as { clients: Record<string, Client | undefined> }).clients[clientId]
    if (here !== undefined) this.#movedAway.add(here)
  }

  /** `client` is the connection of its client id on this broker, and open. */
  #isCurrent (client: Client): boolean {
    return !client.closed && (this.#deps.aedes as unknown as { clients: Record<string, Client | undefined> }).clients[client.id] === client
  }

  /** A client with this id is connected to this broker (other than `except`). */
  #connectedNow (clientId: string, except?: Client): boolean {
    const live = (this.#deps.aedes as unknown as { clients: Record<string, Client | undefined> }).clients[clientId]
    return live !== undefined && live !== except
  }

  #track (write: Promise<void>): void {
    const tracked = write.catch((err: unknown) => { this.#deps.log.error({ err }, 'session record not written') })
    this.#writes.add(tracked)
    void tracked.finally(() => this.#writes.delete(tracked))
  }
}
