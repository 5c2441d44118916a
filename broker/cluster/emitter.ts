/**
 * The cluster emitter: the bus aedes routes every PUBLISH through (its `mq`), chosen once at start
 * from the frozen config.
 *
 * - One node (no `CLUSTER_REDIS_URL`): aedes' own in-memory mqemitter (`mq` left unset).
 * - Several nodes (`CLUSTER_REDIS_URL`, with `STORE=mongodb`): mqemitter-redis (redis-mq.ts).
 *   A message published on any node reaches the subscribers of every node, and so do aedes' own
 *   messages between nodes: `$SYS/{id}/new/clients` (a client id connected here: the node holding
 *   an older connection of it closes that one [MQTT-3.1.4-2]), `$SYS/sub/add|rm` (every node's
 *   index of the stored subscriptions, which decides whose offline queue gets a message, follows
 *   what any node stores), `$SYS/{id}/heartbeat` (which nodes are alive: the stored wills of a
 *   dead node's clients are published by the others). Sessions, queues, retained messages and
 *   wills themselves are in the shared MongoDB.
 *
 * At start both Redis connections (one publishes, one subscribes) must be ready within
 * START_TIMEOUT_MS, else the start fails with a message naming the host, never the password, and
 * saying what to fix when Redis refused the credentials or its TLS certificate was not trusted
 * (redis-errors.ts). `rediss://` verifies the server's certificate, against the system's CAs or
 * `CLUSTER_REDIS_CA_FILE`.
 * Later, a lost Redis is logged once, retried by ioredis, reported by `/healthz` (503), and the
 * broker keeps serving its own clients (redis-mq.ts); its return is logged too.
 */
import { readFileSync } from 'node:fs'
import { Redis, type RedisOptions } from 'ioredis'
import type { Config } from '../config/schema.js'
import type { Logger } from '../ops/logger.js'
import { GuardedConnector } from './redis-connector.js'
import { explainRedisError } from './redis-errors.js'
import { RedisMq } from './redis-mq.js'

export interface ClusterHealth { kind: 'single' | 'redis', ok: boolean, error?: string }

export interface ClusterEmitter {
  readonly kind: ClusterHealth['kind']
  /** aedes' `mq` option; undefined: aedes builds its in-memory default */
  readonly mq: RedisMq | undefined
  /** for `GET /healthz`: whether messages reach the other nodes now */
  health (): Promise<ClusterHealth>
  /** `listener` runs each time Redis is back after an outage */
  onBack (listener: () => void): void
  /** after aedes has closed (aedes closes its `mq` itself; this makes sure) */
  close (): Promise<void>
}

export interface ClusterOptions {
  /** how long the start waits for Redis (default 5 s) */
  startTimeoutMs?: number
}

const START_TIMEOUT_MS = 5000
const HEALTH_PING_MS = 2000
/** a publish to a Redis that stopped answering is given up after this, and delivered here only */
const COMMAND_TIMEOUT_MS = 5000

const single: ClusterEmitter = {
  kind: 'single',
  mq: undefined,
  health: async () => ({ kind: 'single', ok: true }),
  onBack: () => {},
  close: async () => {}
}

export async function openClusterEmitter (config: Pick<Config, 'CLUSTER_REDIS_URL' | 'CLUSTER_REDIS_CA_FILE'>, log: Logger, options: ClusterOptions = {}): Promise<ClusterEmitter> {
  const url = config.CLUSTER_REDIS_URL
  if (url === undefined) return single
  const redis = describeRedisUrl(url)
  const common: RedisOptions = {
    connectTimeout: options.startTimeoutMs ?? START_TIMEOUT_MS,
    // 100 ms, 200 ms … then every 2 s, for as long as it takes
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    Connector: GuardedConnector,
    // rediss:// with a private CA; the certificate is verified either way (ioredis: tls.connect)
    ...(config.CLUSTER_REDIS_CA_FILE ? { tls: { ca: readFileSync(config.CLUSTER_REDIS_CA_FILE) } } : {})
  }
  // Publishing gives up at once when the connection drops: the message is then delivered here
  // only (redis-mq.ts), rather than holding its publisher until Redis is back.
  const pub = new Redis(url, { ...common, connectionName: 'mqtt-im:pub', maxRetriesPerRequest: 0, commandTimeout: COMMAND_TIMEOUT_MS, enableAutoPipelining: true })
  const sub = new Redis(url, { ...common, connectionName: 'mqtt-im:sub', maxRetriesPerRequest: null })
  const link = new RedisLink(redis, [pub, sub], log)
  try {
    await link.ready(options.startTimeoutMs ?? START_TIMEOUT_MS)
  } catch (err) {
    pub.disconnect()
    sub.disconnect()
    // passed on scrubbed, and not as the cause, should an error ever quote the URL
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`Cannot reach Redis at ${redis.where} (CLUSTER_REDIS_URL): ${explainRedisError(redis.scrub((err as Error).message), (err as NodeJS.ErrnoException).code)}`)
  }
  log.info({ redis: redis.where }, 'cluster: routing between broker nodes through Redis')
  const mq = new RedisMq(pub, sub, () => link.deliveredHereOnly())
  return {
    kind: 'redis',
    mq,
    health: async () => await link.health(),
    onBack: (listener) => { link.onBack(listener) },
    close: async () => {
      await new Promise<void>((resolve) => { mq.close(resolve) })
      link.stop()
    }
  }
}

/** Where a Redis URL points, for messages and logs, and how to keep its password out of them. */
export function describeRedisUrl (url: string): { where: string, scrub: (message: string) => string } {
  const parsed = new URL(url)
  const db = parsed.pathname.replace(/^\//, '')
  const where = `${parsed.hostname}:${parsed.port || '6379'}${db ? `/${db}` : ''}${parsed.protocol === 'rediss:' ? ' (TLS)' : ''}`
  const secrets = [parsed.password, safeDecode(parsed.password)].filter((secret) => secret.length >= 3)
  return { where, scrub: (message) => secrets.reduce((out, secret) => out.replaceAll(secret, '***'), message) }
}

function safeDecode (text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** The two connections' state: waits for them at start, logs when Redis goes and comes back, answers health. */
class RedisLink {
  readonly #redis: ReturnType<typeof describeRedisUrl>
  readonly #conns: Redis[]
  readonly #log: Logger
  #lastError: string | undefined
  #up = false
  #everUp = false
  #stopped = false
  #localOnly = 0
  readonly #onBack: Array<() => void> = []

  constructor (redis: ReturnType<typeof describeRedisUrl>, conns: Redis[], log: Logger) {
    this.#redis = redis
    this.#conns = conns
    this.#log = log
    for (const conn of conns) {
      conn.on('error', (err: NodeJS.ErrnoException) => {
        this.#lastError = explainRedisError(redis.scrub(err.message), err.code)
        if (this.#up) this.#log.debug({ redis: redis.where, err: this.#lastError }, 'cluster: Redis error')
      })
      conn.on('ready', () => { this.#changed() })
      // not 'close': that also comes when the broker closes the connection itself
      conn.on('reconnecting', () => { this.#changed() })
    }
  }

  /** Resolves once both connections are ready; rejects at the first error, or after `timeoutMs`. */
  async ready (timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const failures: Array<() => void> = []
    try {
      await new Promise<void>((resolve, reject) => {
        const check = (): void => { if (this.#ready()) resolve() }
        const fail = (err: Error): void => { reject(err) }
        for (const conn of this.#conns) {
          conn.on('ready', check)
          conn.on('error', fail)
          failures.push(() => { conn.off('ready', check); conn.off('error', fail) })
        }
        timer = setTimeout(() => { reject(new Error(`no answer within ${timeoutMs / 1000} s`)) }, timeoutMs)
        check()
      })
    } finally {
      clearTimeout(timer)
      for (const undo of failures) undo()
    }
  }

  /** A message went to this node's clients only: Redis is away. Counted, and logged with the loss. */
  deliveredHereOnly (): void {
    this.#localOnly++
  }

  async health (): Promise<{ kind: 'redis', ok: boolean, error?: string }> {
    if (!this.#ready()) {
      return { kind: 'redis', ok: false, error: `Redis at ${this.#redis.where} is unreachable (${this.#lastError ?? this.#conns.map((c) => c.status).join('/')}); reconnecting, messages reach this node's clients only` }
    }
    let timer: NodeJS.Timeout | undefined
    try {
      const pong = this.#conns[0]!.ping()
      await Promise.race([pong, new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`no PING answer within ${HEALTH_PING_MS} ms`)) }, HEALTH_PING_MS) })])
      return { kind: 'redis', ok: true }
    } catch (err) {
      return { kind: 'redis', ok: false, error: `Redis at ${this.#redis.where}: ${this.#redis.scrub((err as Error).message)}` }
    } finally {
      clearTimeout(timer)
    }
  }

  stop (): void {
    this.#stopped = true
  }

  onBack (listener: () => void): void {
    this.#onBack.push(listener)
  }

  #ready (): boolean {
    return this.#conns.every((conn) => conn.status === 'ready')
  }

  #changed (): void {
    const up = this.#ready()
    if (up === this.#up || this.#stopped) return
    this.#up = up
    if (up) {
      if (this.#localOnly > 0 || this.#lastError !== undefined) {
        this.#log.info({ redis: this.#redis.where, deliveredHereOnly: this.#localOnly }, 'cluster: Redis is back; messages reach every node again')
      }
      this.#localOnly = 0
      this.#lastError = undefined
      const back = this.#everUp // up before, then down: an outage ends
      this.#everUp = true
      if (back) for (const listener of this.#onBack) listener()
    } else {
      this.#log.warn({ redis: this.#redis.where, err: this.#lastError }, 'cluster: lost Redis; reconnecting — meanwhile messages reach this node\'s clients only')
    }
  }
}
