/**
 * Broker nodes behind nginx, as deploy/nginx/mqtt-im.conf runs them (docs/operations.md, "Scaling
 * out"): child processes (`spawnBroker` through RestartableBroker, so one can be killed or
 * restarted on its ports) sharing one FerretDB (or `MONGO_URL`) database and one Redis, with
 * nginx in front (test/helpers/nginx.ts). The clients know only nginx's ports.
 *
 * Which node a client landed on is read from the nodes' own `GET /healthz` (`clients`), asked of
 * each node directly before and after the client connects: so connect one client at a time.
 */
import assert from 'node:assert/strict'
import type { Message } from '../../shared/protocol.js'
import { RestartableBroker } from './broker.js'
import { startFerretDb, uniqueDbName, type MongoServer } from './ferretdb.js'
import { adminToken, api, createUser, type Principal } from './http.js'
import { waitFor } from './mqtt.js'
import { startNginx, type Nginx } from './nginx.js'
import { startRedis, type RedisServer } from './redis.js'

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

export interface ClusterOptions {
  /** default 3 */
  nodes?: number
  /** names the database (uniqueDbName) */
  dbPrefix: string
  /** more settings, the same for every node */
  env?: Record<string, string>
}

export class NginxCluster {
  readonly nodes: RestartableBroker[]
  readonly lb: Nginx
  /** the admin's token */
  readonly admin: string
  readonly #mongo: MongoServer
  readonly #redis: RedisServer

  private constructor (parts: { nodes: RestartableBroker[], lb: Nginx, admin: string, mongo: MongoServer, redis: RedisServer }) {
    this.nodes = parts.nodes
    this.lb = parts.lb
    this.admin = parts.admin
    this.#mongo = parts.mongo
    this.#redis = parts.redis
  }

  static async start (options: ClusterOptions): Promise<NginxCluster> {
    const [mongo, redis] = await Promise.all([startFerretDb(), startRedis()])
    // The runner ends a file that overruns its timeout with SIGTERM: the nodes, nginx, FerretDB and
    // Redis each stop on it (their helpers).
    const env = {
      STORE: 'mongodb', MONGO_URL: mongo.url, MONGO_DB: uniqueDbName(options.dbPrefix), CLUSTER_REDIS_URL: redis.url,
      // as deploy/nginx/mqtt-im.conf says: believe nginx's X-Forwarded-For
      TRUST_PROXY: '127.0.0.1',
      ...options.env
    }
    const nodes = Array.from({ length: options.nodes ?? 3 }, () => new RestartableBroker(env))
    let lb: Nginx | undefined
    try {
      // the first alone: it creates the database's indexes and the admin; then the others at once
      await nodes[0]!.start()
      await Promise.all(nodes.slice(1).map(async (node) => await node.start()))
      lb = await startNginx({
        httpUpstreams: nodes.map((node) => `127.0.0.1:${node.broker.ports.http}`),
        mqttUpstreams: nodes.map((node) => `127.0.0.1:${node.broker.ports.mqtt}`)
      })
      return new NginxCluster({ nodes, lb, admin: await adminToken(lb.httpUrl), mongo, redis })
    } catch (err) {
      await lb?.stop()
      await Promise.all(nodes.map(async (node) => { await node.dispose() }))
      await Promise.all([redis.stop(), mongo.stop()])
      throw err
    }
  }

  /** Each node's connected clients, asked of the node itself; -1 for a node that is down. */
  async clientCounts (): Promise<number[]> {
    return await Promise.all(this.nodes.map(async (node) => {
      if (node.current === undefined) return -1
      const health = await api(node.current.httpUrl, 'GET', '/healthz')
      return health.body.clients as number
    }))
  }

  /** Connects one client through nginx and tells on which node (its index) it landed. */
  async landing<T> (connect: () => Promise<T>): Promise<{ client: T, node: number }> {
    const before = await this.clientCounts()
    const client = await connect()
    const node = await waitFor(async () => {
      const index = (await this.clientCounts()).findIndex((count, i) => count > before[i]!)
      return index === -1 ? undefined : index
    }, 5000, 'a node counting the new client')
    return { client, node }
  }

  /** Users created and logged in through nginx. */
  async users (...uids: string[]): Promise<Principal[]> {
    return await Promise.all(uids.map(async (uid) => await createUser(this.lb.httpUrl, this.admin, uid)))
  }

  /** The whole history of `cid`, read through nginx, page by page. */
  async history (cid: string, token: string): Promise<Message[]> {
    const messages: Message[] = []
    for (;;) {
      const page = await api(this.lb.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=${messages.at(-1)?.seq ?? 0}&limit=200`, undefined, token)
      assert.equal(page.status, 200, JSON.stringify(page.body))
      if (page.body.messages.length === 0) return messages
      messages.push(...page.body.messages)
    }
  }

  /**
   * A graceful restart of node `index` (RestartableBroker.restart: SIGTERM, exit, the same
   * settings and ports again), done once the node answers `GET /healthz` with 200 and `ok`
   * (its MongoDB and its Redis reached). Resolves with how the old process ended, how long it
   * took to, and its last log lines.
   */
  async restart (index: number): Promise<{ exit: number | string | null, stoppedInMs: number, log: string }> {
    const node = this.nodes[index]!
    const ended = await node.restart()
    await waitFor(async () => {
      const health = await api(node.broker.httpUrl, 'GET', '/healthz').catch(() => undefined)
      return health?.status === 200 && health.body.ok === true
    }, 10_000, `node ${index} to be healthy again`)
    return ended
  }

  /** Stops nginx, the nodes, Redis and FerretDB; the clients are the test's to close first. */
  async stop (): Promise<void> {
    await this.lb.stop()
    await Promise.all(this.nodes.map(async (node) => { await node.dispose() }))
    await this.#redis.stop()
    await this.#mongo.stop()
  }
}
