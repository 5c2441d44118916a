/**
 * Warnings, at start, about the links to the services a cluster shares. Redis carries every MQTT
 * message between the nodes and MongoDB holds every account, token generation and message: a
 * node that talks to either without credentials, or in plain text across a network, hands
 * whoever reaches that service (or the wire) the whole broker. The broker still starts — a
 * single machine with services on its loopback interface is a fair setup, and tests run so —
 * but says what is missing; docs/operations.md#securing-redis-and-mongodb shows the setup.
 */
import type { Config } from './schema.js'

export interface LinkWarning { setting: 'CLUSTER_REDIS_URL' | 'MONGO_URL', message: string }

export function insecureLinks (config: Pick<Config, 'STORE' | 'MONGO_URL' | 'CLUSTER_REDIS_URL'>): LinkWarning[] {
  const warnings: LinkWarning[] = []
  if (config.CLUSTER_REDIS_URL !== undefined) {
    const url = new URL(config.CLUSTER_REDIS_URL)
    if (url.password === '') {
      warnings.push({ setting: 'CLUSTER_REDIS_URL', message: 'CLUSTER_REDIS_URL has no password: whoever reaches this Redis reads every MQTT message of the cluster and can inject its own. Require one (requirepass, or an ACL user) and give it in the URL.' })
    }
    if (url.protocol === 'redis:' && !isLoopback(url.hostname)) {
      warnings.push({ setting: 'CLUSTER_REDIS_URL', message: `CLUSTER_REDIS_URL talks to ${url.hostname} in plain text: messages and the password cross the network readable. Use rediss:// (Redis with tls-port).` })
    }
  }
  if (config.STORE === 'mongodb' && config.MONGO_URL !== undefined) {
    const { hosts, query, credentials, srv } = parseMongoUrl(config.MONGO_URL)
    const x509 = /^MONGODB-X509$/i.test(query.get('authMechanism') ?? '')
    if (!credentials && !x509 && query.get('authMechanism') === null) {
      warnings.push({ setting: 'MONGO_URL', message: 'MONGO_URL has no credentials: whoever reaches this MongoDB reads and changes every account and message. Enable access control and give a user in the URL (mongodb://user:password@host/?authSource=admin).' })
    }
    const tls = srv || ['tls', 'ssl'].some((option) => query.get(option)?.toLowerCase() === 'true')
    if (!tls && !hosts.every(isLoopback)) {
      warnings.push({ setting: 'MONGO_URL', message: `MONGO_URL talks to ${hosts.join(',')} in plain text: data and credentials cross the network readable. Add tls=true (and tlsCAFile=… for a private CA).` })
    }
  }
  return warnings
}

/** The parts of a connection string that tell whether it authenticates and encrypts (never the password). */
function parseMongoUrl (url: string): { hosts: string[], query: URLSearchParams, credentials: boolean, srv: boolean } {
  const srv = url.startsWith('mongodb+srv://')
  const rest = url.replace(/^mongodb(\+srv)?:\/\//, '')
  const [beforeQuery = '', queryText = ''] = rest.split('?', 2)
  // the last '@' ends the credentials, also when a password holds a raw '@'
  const at = beforeQuery.lastIndexOf('@')
  const hostList = beforeQuery.slice(at + 1).split('/', 1)[0] ?? ''
  const hosts = hostList.split(',').map((h) => h.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'))
  return { hosts, query: new URLSearchParams(queryText), credentials: at >= 0, srv }
}

function isLoopback (host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare)
}
