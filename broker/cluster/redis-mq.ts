/**
 * mqemitter-redis as aedes' `mq` when several nodes run, with what the broker needs on top of it
 * while Redis is away (ioredis reconnects by itself meanwhile):
 *
 * - A message is published to Redis, and every node subscribed to it — this one included — gets
 *   it back from there (mqemitter-redis delivers nothing locally by itself). While the publishing
 *   connection is not ready, or a publish fails, the message is delivered on this node only:
 *   its own clients keep talking to each other, other nodes miss it. (Persistent sessions still
 *   find it in their MongoDB queue; IM clients fetch a gap from history by seq.) Should a failed
 *   publish have reached Redis after all, aedes drops the second copy per client (lib/client.js
 *   `dedupe`: same broker id and counter).
 * - SUBSCRIBE/UNSUBSCRIBE finish at once while the subscribing connection is not ready: the Redis
 *   (un)subscription waits in ioredis' offline queue and is sent when Redis is back (that
 *   connection never gives up a command: `maxRetriesPerRequest: null`). Otherwise aedes would
 *   hold the client's SUBACK — and a persistent client's, whose subscription aedes-persistence-
 *   mongodb announces on `$SYS/sub/add` and waits to hear back — until Redis returns.
 * - aedes publishes the stored wills of a node whose `$SYS/{id}/heartbeat` it has not heard for
 *   3 heartbeats (aedes.js `_clearWills`), taking the node for dead. Without Redis no heartbeat
 *   crosses, so every node would announce the wills of every other node's live clients. While
 *   Redis is away, each heartbeat of this node is accompanied, locally, by one for every peer
 *   heard from before: a peer that really died then has its wills published once Redis is back
 *   (3 heartbeats later), not before.
 * - Closing does not wait for a Redis that is not there.
 *
 * Wildcard filters become Redis PSUBSCRIBE globs; mqemitter-redis passes their other characters
 * on raw, so `a/[x]/+` would only match `a/x/…` and `a\b/+` only `ab/…`. They are escaped here.
 */
import type { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import mqemitterRedis from 'mqemitter-redis'

export interface MqPacket { topic: string, payload?: unknown, [field: string]: unknown }
type Listener = (packet: MqPacket, done: () => void) => void
type Done = (err?: Error | null) => void

/** The parts of mqemitter-redis (7.x, mqemitter-redis.js) used here, private ones included. */
interface MqEmitterRedisInstance {
  closed: boolean
  closing?: boolean
  /** where mqemitter-redis reports the errors of its connections; unheard, an error would throw */
  readonly state: EventEmitter
  emit (packet: MqPacket, done?: Done): void
  on (topic: string, listener: Listener, done?: () => void): this
  removeListener (topic: string, listener: Listener, done?: () => void): this
  close (done?: () => void): void
  /** mqemitter's own emit: to this process' listeners only (what a message from Redis goes through) */
  _emit (packet: MqPacket, done?: Done): void
  /** mqemitter's own close */
  _close (done: () => void): void
  /** the Redis channel or glob pattern of a topic filter */
  _subTopic (topic: string): string
  _containsWildcard (topic: string): boolean
}

interface MqEmitterRedisOptions { pubConn: Redis, subConn: Redis, concurrency: number, matchEmptyLevels: boolean }

const MqEmitterRedis = mqemitterRedis as unknown as new (options: MqEmitterRedisOptions) => MqEmitterRedisInstance

/** aedes' own mqemitter settings (aedes.js): at most 100 messages delivered at once; `a/#` matches `a` [MQTT-4.7.1-3]. */
const AEDES_MQ = { concurrency: 100, matchEmptyLevels: true }
/** aedes forgets a node after 3 missed heartbeats (aedes.js `_clearWills`), 60 s apart by default. */
const PEER_SILENCE_MS = 3 * 60_000
/** how long closing waits for Redis to confirm QUIT */
const QUIT_WAIT_MS = 1000
const HEARTBEAT = /^\$SYS\/[^/]+\/heartbeat$/
const GLOB_CHARACTERS = /[\\*?[\]]/g

function noop (): void {}

export class RedisMq extends MqEmitterRedis {
  readonly #pub: Redis
  readonly #sub: Redis
  /** broker id → when its last heartbeat came */
  readonly #peers = new Map<string, number>()
  readonly #onLocalOnly: (topic: string) => void

  /** `onLocalOnly`: called for each message delivered on this node only because Redis is away. */
  constructor (pub: Redis, sub: Redis, onLocalOnly: (topic: string) => void = noop) {
    super({ pubConn: pub, subConn: sub, ...AEDES_MQ })
    this.#pub = pub
    this.#sub = sub
    this.#onLocalOnly = onLocalOnly
    // the connections' errors are logged where they are made (emitter.ts); heard here so none throws
    this.state.on('error', noop)
    super.on('$SYS/+/heartbeat', (packet, done) => {
      this.#peers.set(String(packet.payload), Date.now())
      done()
    })
  }

  override emit (packet: MqPacket, done: Done = noop): void {
    if (this.#pub.status !== 'ready' || this.closing === true) {
      this.#emitHere(packet, done)
      return
    }
    super.emit(packet, (err) => {
      if (err) this.#emitHere(packet, done)
      else done()
    })
  }

  /** Delivers to this node's listeners only, on purpose (subscription-resync.ts). */
  emitHere (packet: MqPacket): void {
    this._emit(packet)
  }

  override on (topic: string, listener: Listener, done?: () => void): this {
    if (done === undefined || this.#sub.status === 'ready') return super.on(topic, listener, done)
    super.on(topic, listener)
    setImmediate(done)
    return this
  }

  override removeListener (topic: string, listener: Listener, done?: () => void): this {
    if (done === undefined || this.#sub.status === 'ready') return super.removeListener(topic, listener, done)
    super.removeListener(topic, listener)
    setImmediate(done) // after mqemitter's own removal, itself one setImmediate away
    return this
  }

  override close (done: () => void = noop): void {
    if (this.closed || this.closing === true) {
      done()
      return
    }
    this.closing = true
    void Promise.all([quit(this.#pub), quit(this.#sub)]).then(() => { this._close(done) })
  }

  override _subTopic (topic: string): string {
    if (!this._containsWildcard(topic)) return topic
    const literal = topic.split('/').map((level) => (level === '+' || level === '#' ? level : level.replace(GLOB_CHARACTERS, '\\$&'))).join('/')
    return super._subTopic(literal)
  }

  /** Delivers to this node's listeners only; a heartbeat of ours brings those of the peers along. */
  #emitHere (packet: MqPacket, done: Done): void {
    if (!this.closed) this.#onLocalOnly(packet.topic)
    if (HEARTBEAT.test(packet.topic)) this.#vouchForPeers(String(packet.payload))
    this._emit(packet, done)
  }

  #vouchForPeers (self: string): void {
    const now = Date.now()
    for (const [peer, seen] of this.#peers) {
      if (peer === self) continue
      if (now - seen > PEER_SILENCE_MS) this.#peers.delete(peer)
      else this._emit({ topic: `$SYS/${peer}/heartbeat`, payload: Buffer.from(peer, 'utf8') })
    }
  }
}

/** QUIT when connected (for at most QUIT_WAIT_MS), then drop the connection; no reconnecting after. */
async function quit (conn: Redis): Promise<void> {
  if (conn.status === 'ready') {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([conn.quit().catch(noop), new Promise<void>((resolve) => { timer = setTimeout(resolve, QUIT_WAIT_MS) })])
    clearTimeout(timer)
  }
  conn.disconnect()
}
