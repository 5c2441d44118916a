/**
 * Every setting the broker reads, with its default and its check. One name per setting: the same
 * key is used as an environment variable and in the optional JSON config file. The README's
 * configuration table documents each entry below (a test keeps them in step).
 */
import { z } from 'zod'

const port = z.coerce.number().int().min(0).max(65535)
const positiveInt = z.coerce.number().int().positive()
const optionalPath = z.string().min(1).optional()

export const configSchema = z.object({
  HOST: z.string().min(1).default('0.0.0.0'),
  MQTT_PORT: port.default(1883),
  HTTP_PORT: port.default(8080),
  MQTTS_PORT: port.default(8883),
  HTTPS_PORT: port.default(8443),
  TLS_KEY_FILE: optionalPath,
  TLS_CERT_FILE: optionalPath,
  PUBLIC_URL: z.url().optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  STORE: z.enum(['level', 'mongodb']).default('level'),
  MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'MONGO_URL must be a mongodb:// or mongodb+srv:// connection string').optional(),
  MONGO_DB: z.string().regex(/^[^/\\. "$]{1,63}$/, 'MONGO_DB must be a MongoDB database name (1–63 characters, none of / \\ . " $ or space)').default('mqtt_im'),
  CLUSTER_REDIS_URL: z.string().refine(isRedisUrl, 'CLUSTER_REDIS_URL must be a redis:// or rediss:// URL with a host (redis://:password@host:6379/0)').optional(),
  CLUSTER_REDIS_CA_FILE: optionalPath,
  NODE_LEASE_MS: z.coerce.number().int().min(300).max(600_000).default(15_000),
  JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
  TOKEN_TTL_SECONDS: positiveInt.default(86_400),
  VISITOR_RENEW_SECONDS: positiveInt.default(180 * 86_400),
  ADMIN_PASSWORD: z.string().min(8, 'ADMIN_PASSWORD must be at least 8 characters').optional(),
  ANONYMOUS_NAMESPACE: z.string().default(''),
  ACL_FILE: optionalPath,
  MAX_PACKET_BYTES: z.coerce.number().int().min(1024).max(268_435_455).default(262_144),
  // At most 100: aedes 1.2 clamps maxTopicLevels there (qlobber's max_words in mqemitter and the
  // persistence). At least 4: `im/u/{uid}/in`, `im/b/support/queue`, `$SYS/{id}/new/clients`.
  MAX_TOPIC_LEVELS: z.coerce.number().int().min(4, 'MAX_TOPIC_LEVELS must be at least 4: the IM topics (im/u/{uid}/in) and the broker\'s $SYS topics have 4 levels').max(100, 'MAX_TOPIC_LEVELS must be at most 100: aedes 1.2 cannot route deeper topics').default(100),
  HTTP_MAX_HEADER_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
  HTTP_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(10_485_760).default(65_536),
  MAX_SUBSCRIPTIONS_PER_CLIENT: positiveInt.max(1_000_000).default(500),
  RETAINED_MAX_MESSAGES: positiveInt.default(10_000),
  RETAINED_MAX_BYTES: positiveInt.default(104_857_600),
  RETAINED_MAX_PER_CLIENT: positiveInt.default(1000),
  RETAINED_MAX_BYTES_PER_CLIENT: positiveInt.default(10_485_760),
  CONNECT_TIMEOUT_MS: positiveInt.default(10_000),
  MAX_PENDING_CONNECTS_PER_IP: positiveInt.default(32),
  MAX_PENDING_CONNECTS: z.coerce.number().int().min(0).default(0),
  QUEUE_MAX_MESSAGES: positiveInt.default(1000),
  QUEUE_MAX_AGE_SECONDS: positiveInt.default(7 * 86_400),
  SESSION_EXPIRY_VISITOR_SECONDS: positiveInt.default(86_400),
  SESSION_EXPIRY_SECONDS: positiveInt.default(30 * 86_400),
  SESSION_SWEEP_SECONDS: positiveInt.max(86_400).default(300),
  COMMAND_MAX_BYTES: z.coerce.number().int().min(256).max(1_048_576).default(65_536),
  COMMAND_MAX_DEPTH: z.coerce.number().int().min(4).max(1000).default(32),
  MESSAGE_MAX_CHARS: positiveInt.max(1_000_000).default(10_000),
  MAX_GROUP_MEMBERS: positiveInt.max(100_000).default(500),
  MAX_PENDING_GROUPS: positiveInt.max(100_000).default(100),
  MAX_PENDING_PER_INVITER: positiveInt.max(100_000).default(5),
  CONVERSATIONS_PER_USER_PER_HOUR: positiveInt.default(100),
  RECALL_WINDOW_SECONDS: z.coerce.number().int().min(0).default(120),
  AGENT_CAPACITY: positiveInt.max(100).default(3),
  IDLE_RELEASE_MS: z.coerce.number().int().min(100).default(180_000),
  SILENCE_RELEASE_MS: z.coerce.number().int().min(0).default(0),
  AGENT_AWAY_GRACE_MS: z.coerce.number().int().min(0).default(60_000),
  AGENT_REQUEUE_MS: z.coerce.number().int().min(0).default(0),
  BUSINESS_HOURS: z.string().default(''),
  BUSINESS_TIMEZONE: z.string().default('UTC').refine((tz) => { try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); return true } catch { return false } }, 'BUSINESS_TIMEZONE must be an IANA time zone, e.g. Europe/Berlin'),
  CORS_ORIGINS: z.string().default('*'),
  TRUST_PROXY: z.string().default(''),
  METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  METRICS_PORT: port.default(9464),
  LOGIN_ATTEMPTS_PER_IP_PER_MINUTE: positiveInt.default(30),
  LOGIN_MAX_FAILURES: positiveInt.max(1000).default(5),
  LOGIN_LOCKOUT_SECONDS: positiveInt.max(3600).default(30),
  // 0: half the CPU cores, at least 1 [IM-LIMIT-HASH]
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(0).max(256).default(0),
  PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).max(10_000).default(64),
  VISITORS_PER_IP_PER_MINUTE: positiveInt.default(60),
  NEW_VISITORS_PER_SITE_PER_MINUTE: positiveInt.default(1200),
  NEW_VISITORS_SOURCE_SHARE_PERCENT: positiveInt.max(100).default(5),
  COMMANDS_PER_SECOND: z.coerce.number().positive().max(100_000).default(20),
  COMMAND_BURST: positiveInt.max(100_000).default(60),
  CONNECTS_PER_IP_PER_MINUTE: positiveInt.default(300),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).strict().superRefine((c, ctx) => {
  if (Boolean(c.TLS_KEY_FILE) !== Boolean(c.TLS_CERT_FILE)) {
    ctx.addIssue({ code: 'custom', path: ['TLS_CERT_FILE'], message: 'TLS_KEY_FILE and TLS_CERT_FILE must be set together' })
  }
  if (c.STORE === 'mongodb' && !c.MONGO_URL) {
    ctx.addIssue({ code: 'custom', path: ['MONGO_URL'], message: 'STORE=mongodb needs MONGO_URL (mongodb://host:27017)' })
  }
  if (c.STORE === 'mongodb' && !c.JWT_SECRET) {
    // A generated key lives in one node's DATA_DIR: a token from one node would fail on the next.
    ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'STORE=mongodb needs JWT_SECRET, the same on every broker node' })
  }
  if (!isLoopbackHost(c.METRICS_HOST) && !c.METRICS_TOKEN) {
    // The metrics listener is kept off the network unless a scraper must prove who it is. [IM-HTTP-3]
    ctx.addIssue({ code: 'custom', path: ['METRICS_HOST'], message: 'METRICS_HOST other than a loopback address (127.0.0.1, ::1, localhost) needs METRICS_TOKEN' })
  }
  if (c.CLUSTER_REDIS_URL && c.STORE !== 'mongodb') {
    // Nodes share sessions, offline queues and history through MongoDB; on LevelDB each node
    // would keep its own, and a client moving to another node would find nothing of it there.
    ctx.addIssue({ code: 'custom', path: ['CLUSTER_REDIS_URL'], message: 'CLUSTER_REDIS_URL needs STORE=mongodb: the broker nodes must share one MongoDB (STORE=level keeps each node\'s state on its own disk)' })
  }
  if (c.CLUSTER_REDIS_CA_FILE && !c.CLUSTER_REDIS_URL?.startsWith('rediss://')) {
    ctx.addIssue({ code: 'custom', path: ['CLUSTER_REDIS_CA_FILE'], message: 'CLUSTER_REDIS_CA_FILE is for a TLS connection to Redis: CLUSTER_REDIS_URL must start with rediss://' })
  }
})

function isLoopbackHost (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** `redis://` or `rediss://` (TLS) with a host; the password, if any, in the URL's password part. */
function isRedisUrl (value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== ''
  } catch {
    return false
  }
}

export type Config = Readonly<z.output<typeof configSchema>>
export type ConfigInput = z.input<typeof configSchema>
export const CONFIG_KEYS = Object.keys(configSchema.shape) as ReadonlyArray<keyof Config>
