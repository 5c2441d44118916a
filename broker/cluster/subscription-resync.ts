/**
 * Puts every node's index of the stored subscriptions right again after a Redis outage.
 *
 * Which offline sessions get a copy of a message is decided from an in-memory index of the
 * stored subscriptions that aedes-persistence-mongodb keeps on each node, fed by the
 * `$SYS/sub/add` and `$SYS/sub/rm` messages every node publishes when it stores or removes one.
 * While Redis is away those reach the publishing node only (redis-mq.ts), so the other nodes'
 * indexes miss the persistent subscriptions made meanwhile — and would not queue their messages.
 *
 * So each node mirrors what its index was told (clientId → filter → QoS), and when its Redis
 * connections are back it (1) compares the mirror with the subscriptions stored in MongoDB and
 * tells its index, locally, the difference; (2) asks every other node to do the same
 * (`$SYS/cluster/resync`), since their connections may have come back before the subscriptions
 * of this node's outage were stored. A subscription changed while the comparison runs is left to
 * the change's own message.
 */
import type { Aedes } from 'aedes'
import type { Logger } from '../ops/logger.js'

export interface StoredSub { clientId: string, topic: string, qos: number }
interface Announcement { clientId: string, subs: Array<{ topic: string, qos: number }> }

export const RESYNC_TOPIC = '$SYS/cluster/resync'
const ADD = '$SYS/sub/add'
const REMOVE = '$SYS/sub/rm'

export interface SubscriptionResyncDeps {
  aedes: Aedes
  /** every subscription stored (aedes' persistence) */
  stored: () => AsyncIterable<StoredSub>
  /** delivers a message to this node's listeners only (not through Redis) */
  emitHere: (packet: { topic: string, payload: Buffer }) => void
  log: Logger
}

export class SubscriptionResync {
  readonly #deps: SubscriptionResyncDeps
  /** what this node's index holds: clientId → filter → QoS */
  readonly #mirror = new Map<string, Map<string, number>>()
  /** (client, filter) pairs announced while a comparison runs */
  #touched: Set<string> | undefined
  #running: Promise<void> = Promise.resolve()
  #queued = false

  constructor (deps: SubscriptionResyncDeps) {
    this.#deps = deps
  }

  /** Mirrors the index as aedes-persistence-mongodb loads it (the QoS 0 entries aside: they queue nothing), then follows its changes. */
  async start (): Promise<void> {
    for await (const sub of this.#deps.stored()) if (sub.qos > 0) this.#set(sub.clientId, sub.topic, sub.qos)
    await this.#subscribe('$SYS/sub/+', (topic, payload) => { this.#follow(topic, payload) })
    await this.#subscribe(RESYNC_TOPIC, () => { void this.resync() })
  }

  /** Redis is back: this node compares, then asks every node to. */
  async redisBack (): Promise<void> {
    await this.resync()
    this.#deps.aedes.publish({ cmd: 'publish', topic: RESYNC_TOPIC, payload: Buffer.from(this.#deps.aedes.id), qos: 0, retain: false, dup: false }, () => {})
  }

  /** One comparison at a time; a request during one runs once more after it. */
  async resync (): Promise<void> {
    if (this.#queued) return await this.#running
    this.#queued = true
    this.#running = this.#running.then(async () => {
      this.#queued = false
      await this.#compare()
    }).catch((err: unknown) => { this.#deps.log.warn({ err }, 'cluster: subscription index not compared with the store; the next Redis return tries again') })
    await this.#running
  }

  async #compare (): Promise<void> {
    const touched = this.#touched = new Set()
    const stored = new Map<string, Map<string, number>>()
    for await (const sub of this.#deps.stored()) {
      const subs = stored.get(sub.clientId) ?? new Map<string, number>()
      subs.set(sub.topic, sub.qos)
      stored.set(sub.clientId, subs)
    }
    this.#touched = undefined
    let added = 0
    let removed = 0
    for (const [clientId, subs] of stored) {
      const known = this.#mirror.get(clientId)
      const missing = [...subs].filter(([topic, qos]) => qos > 0 && known?.get(topic) !== qos && !touched.has(key(clientId, topic)))
      if (missing.length === 0) continue
      added += missing.length
      this.#emit(ADD, { clientId, subs: missing.map(([topic, qos]) => ({ topic, qos })) })
    }
    for (const [clientId, subs] of this.#mirror) {
      const kept = stored.get(clientId)
      const gone = [...subs.keys()].filter((topic) => !touched.has(key(clientId, topic)) && !((kept?.get(topic) ?? 0) > 0))
      if (gone.length === 0) continue
      removed += gone.length
      this.#emit(REMOVE, { clientId, subs: gone.map((topic) => ({ topic, qos: subs.get(topic) ?? 0 })) })
    }
    if (added + removed > 0) this.#deps.log.info({ added, removed }, 'cluster: subscription index brought in line with the store after a Redis outage')
  }

  /** Told locally: the index and the mirror follow it (#follow). */
  #emit (topic: string, announcement: Announcement): void {
    this.#deps.emitHere({ topic, payload: Buffer.from(JSON.stringify(announcement)) })
  }

  /** As aedes-persistence's broadcast does to the index: an add at QoS 0 removes. */
  #follow (topic: string, payload: Buffer): void {
    let announcement: Announcement
    try {
      announcement = JSON.parse(payload.toString()) as Announcement
    } catch {
      return
    }
    for (const sub of announcement.subs ?? []) {
      this.#touched?.add(key(announcement.clientId, sub.topic))
      if (topic === ADD && sub.qos > 0) this.#set(announcement.clientId, sub.topic, sub.qos)
      else this.#delete(announcement.clientId, sub.topic)
    }
  }

  #set (clientId: string, topic: string, qos: number): void {
    const subs = this.#mirror.get(clientId) ?? new Map<string, number>()
    subs.set(topic, qos)
    this.#mirror.set(clientId, subs)
  }

  #delete (clientId: string, topic: string): void {
    const subs = this.#mirror.get(clientId)
    if (!subs?.delete(topic)) return
    if (subs.size === 0) this.#mirror.delete(clientId)
  }

  async #subscribe (topic: string, handle: (topic: string, payload: Buffer) => void): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#deps.aedes.subscribe(topic, (packet, done) => { handle(packet.topic, packet.payload as Buffer); done() }, resolve)
    })
  }
}

const key = (clientId: string, topic: string): string => `${clientId}\n${topic}`
