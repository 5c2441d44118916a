/**
 * The servers of the `cluster` suite: one MongoDB and one Redis for the whole suite, and for each
 * deployment its broker nodes.
 *
 * MongoDB: the server `MONGO_URL` names, else a FerretDB (MongoDB wire protocol on SQLite) started
 * from the binary `.ci/ferretdb.sh` caches; Redis: `REDIS_URL`, else Debian's `redis-server` —
 * both through the tests' helpers (test/helpers/ferretdb.ts, redis.ts), which say how. Only a
 * server the bench started has a process id, hence a CPU figure.
 *
 * A node is a broker process as every suite starts it (broker-process.ts); the nodes of one
 * deployment share `MONGO_URL`, a `MONGO_DB` of their own (so no deployment sees another's data),
 * `CLUSTER_REDIS_URL`, `JWT_SECRET` and `ADMIN_PASSWORD` — what docs/operations.md asks of the
 * nodes of a cluster. The first node starts alone (it creates the indexes and the admin), the
 * others then together, as test/cluster/nginx.test.ts starts them.
 */
import { randomBytes } from 'node:crypto'
import { startFerretDb, uniqueDbName, type MongoServer } from '../test/helpers/ferretdb.js'
import { startRedis, type RedisServer } from '../test/helpers/redis.js'
import { imBrokerEnv, startBroker, type BrokerProcess } from './broker-process.js'
import { stopWithChildren } from './child.js'
import type { Watched } from './cpu-meter.js'
import type { Deployment } from './deployments.js'

export interface Backends {
  /** `FerretDB` or `MongoDB` (`MONGO_URL`), as the tables name it; undefined when no deployment needs it */
  mongo?: { name: string, server: MongoServer }
  /** `Redis`; undefined when no deployment needs it */
  redis?: { name: string, server: RedisServer }
  stop (): Promise<void>
}

/** Starts what the deployments need, MongoDB and Redis at once; stopped by `stop()`, or with the children on Ctrl+C. */
export async function startBackends (deployments: Deployment[]): Promise<Backends> {
  const needsMongo = deployments.some((d) => d.store === 'mongodb')
  const needsRedis = deployments.some((d) => d.redis)
  const [mongo, redis] = await Promise.allSettled([
    needsMongo ? startFerretDb().then((server) => ({ server, stop: stopWithChildren(() => server.stop()) })) : undefined,
    needsRedis ? startRedis().then((server) => ({ server, stop: stopWithChildren(() => server.stop()) })) : undefined
  ])
  const stop = async (): Promise<void> => {
    await Promise.all([mongo, redis].map(async (started) => { if (started.status === 'fulfilled') await started.value?.stop() }))
  }
  for (const started of [mongo, redis]) {
    if (started.status === 'rejected') {
      await stop()
      throw started.reason
    }
  }
  const m = mongo.status === 'fulfilled' ? mongo.value?.server : undefined
  const r = redis.status === 'fulfilled' ? redis.value?.server : undefined
  return {
    ...(m === undefined ? {} : { mongo: { name: m.kind === 'ferretdb' ? 'FerretDB' : 'MongoDB', server: m } }),
    ...(r === undefined ? {} : { redis: { name: 'Redis', server: r } }),
    stop
  }
}

export interface Nodes {
  nodes: BrokerProcess[]
  /** the processes whose CPU time the runs measure: the nodes first, in order (`node 1`…), then the MongoDB and Redis they use (when the bench started them), the bench */
  watched: Watched[]
  stop (): Promise<void>
}

/** the nodes of every deployment share one JWT_SECRET: any of them accepts a token another signed */
const JWT_SECRET = randomBytes(36).toString('base64url')

export async function startNodes (deployment: Deployment, backends: Backends, payloadBytes: number, adminPassword: string): Promise<Nodes> {
  const env: Record<string, string> = { ...imBrokerEnv(payloadBytes, adminPassword), JWT_SECRET }
  if (deployment.store === 'mongodb') {
    if (backends.mongo === undefined) throw new Error(`${deployment.name}: no MongoDB was started`)
    Object.assign(env, { STORE: 'mongodb', MONGO_URL: backends.mongo.server.url, MONGO_DB: uniqueDbName(`bench_${deployment.name}`) })
  }
  if (deployment.redis) {
    if (backends.redis === undefined) throw new Error(`${deployment.name}: no Redis was started`)
    env.CLUSTER_REDIS_URL = backends.redis.server.url
  }
  const nodes: BrokerProcess[] = []
  const stop = async (): Promise<void> => { await Promise.all(nodes.map((node) => node.stop())) }
  try {
    nodes.push(await startBroker(env))
    const others = await Promise.allSettled(Array.from({ length: deployment.nodes - 1 }, () => startBroker(env)))
    for (const other of others) if (other.status === 'fulfilled') nodes.push(other.value)
    for (const other of others) if (other.status === 'rejected') throw other.reason
  } catch (err) {
    await stop()
    throw err
  }
  const watched: Watched[] = nodes.map((node, i) => ({ name: `node ${i + 1}`, pid: node.pid }))
  if (deployment.store === 'mongodb' && backends.mongo) watched.push({ name: backends.mongo.name, pid: backends.mongo.server.pid })
  if (deployment.redis && backends.redis) watched.push({ name: backends.redis.name, pid: backends.redis.server.pid })
  watched.push({ name: 'bench', pid: process.pid })
  return { nodes, watched, stop }
}
