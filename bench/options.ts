/** The bench's command line: every option, its default and its check, and the usage text. */
import { parseArgs } from 'node:util'
import { DEFAULT_DEPLOYMENTS, DEPLOYMENT_NAMES, parseDeployment, type Deployment } from './deployments.js'
import { IM_SCENARIOS, type ImScenario } from './im.js'
import { HEADER_BYTES } from './relay.js'
import { OTHER_TARGETS } from './targets.js'

export const TRANSPORTS = ['tcp', 'ws'] as const
export type Transport = typeof TRANSPORTS[number]
export const SUITES = ['relay', 'im', 'idle', 'drain', 'store-size', 'cluster', 'login-flood'] as const
export type Suite = typeof SUITES[number]
export type OtherTarget = typeof OTHER_TARGETS[number]
const QOS_LEVELS = ['0', '1'] as const

/** the broker's limit on group size */
const MAX_GROUP_MEMBERS = 500
/**
 * cluster: fewer messages by default. On FerretDB every IM send costs a scan of every message
 * stored so far (bench/README.md, `cluster`), so a run's time grows with the square of its size.
 */
const CLUSTER_MESSAGES = '2000'
const CLUSTER_WARMUP = '200'
/** store-size: the fewest users whose five direct conversations each are all different pairs */
const MIN_PREFILL_USERS = 11

export interface BenchOptions {
  suites: Suite[]
  scenarios: ImScenario[]
  messages: number
  groupMessages: number
  warmup: number
  clients: number
  groupSize: number
  groupSenders: number
  window: number
  payload: number
  transports: Transport[]
  json?: string
  /** brokers to measure next to this one (relay, idle, drain) */
  vs: OtherTarget[]
  /** relay QoS levels of the comparison */
  qos: Array<0 | 1>
  rounds: number
  loadProcs: number
  idleConnections: number
  drainMessages: number
  kill: boolean
  /** drain --kill: milliseconds between the last PUBACK and the kill */
  killDelayMs: number
  /** relay, idle and drain through the comparison engine (lean clients, every target): `--vs`, `idle` or `drain` */
  compare: boolean
  /** store-size: measured repetitions of each operation, per store and transport */
  repetitions: number
  /** store-size: what the second store is filled with (store-prefill.ts) */
  prefill: { visitors: number, supportMessages: number, users: number, waiting: number }
  /** cluster: the deployments measured, in order */
  deployments: Deployment[]
  /** cluster: the relay runs alone (IM on FerretDB measures FerretDB's table scans) */
  relayOnly: boolean
  /** login-flood: chat latency idle and during a login flood (login-flood.ts) */
  loginFlood: LoginFloodOptions
}

export interface LoginFloodOptions {
  /** another commit (a git revision) or checkout (a directory) to measure side by side */
  baseline?: string
  floodAddresses: number
  /** wrong logins per address and minute */
  floodRate: number
  /** all of a minute's logins at once instead of evenly spaced */
  floodBurst: boolean
  idleSeconds: number
  floodSeconds: number
  chatIntervalMs: number
}

export const USAGE = `usage: npm run bench -- [options]
  --suite L             comma-separated, from: ${SUITES.join(', ')} (default relay,im; with --vs: relay);
                        im runs its relay baselines too; idle and drain, and --vs, use the comparison engine
                        (lean load clients, several rounds), which cannot run im
  --scenarios L         IM scenarios, from: ${IM_SCENARIOS.join(', ')} (default direct,group; cluster: direct)
  --messages N          measured messages per relay and im direct run, all senders together (default 20000; cluster: ${CLUSTER_MESSAGES})
  --group-messages N    measured messages per transport for im group and relay group; each one is
                        delivered to group-size − 1 members (default 5000)
  --warmup N            warm-up messages per run, not measured (default 1000; cluster: ${CLUSTER_WARMUP})
  --clients N           sender/recipient pairs for relay and im direct (default 10)
  --group-size G        members of the group, every one of them receiving (default 10)
  --group-senders S     members of the group sending, at most G (default 2)
  --window N            unacknowledged messages allowed per sender, at most 65535 (default 100)
  --payload BYTES       relay payload size, and size of an IM send command; at least ${HEADER_BYTES} (default 256)
  --transports L        comma-separated, from: ${TRANSPORTS.join(', ')} (default tcp,ws; cluster: tcp)
  --json FILE           also write the results as JSON to FILE
comparison (relay, idle, drain):
  --vs L                also measure these brokers, from: ${OTHER_TARGETS.join(', ')} (mosquitto: /usr/sbin/mosquitto or $MOSQUITTO)
  --qos L               relay QoS levels, from: 0, 1 (default 1)
  --rounds N            rounds, the brokers in a rotated order each time; medians are reported (default 3; login-flood: 1)
  --load-procs N        load-generating processes for the relay (default 1)
  --idle-connections N  idle: connections per broker and transport (default 5000; mind ulimit -n)
  --drain-messages N    drain: QoS 1 messages queued for the offline session (default 10000)
  --kill                drain: kill -9 the broker between publishing and reconnecting, then restart it
  --kill-delay MS       drain --kill: wait this long after the last PUBACK before the kill (default 0: at once)
store-size (alone; also --transports, --json):
  --repetitions N       measured repetitions of each operation, per store and transport (default 200)
  --prefill N           visitors in the pre-filled store, each with a closed support chat, a session,
                        a retained presence and a queued event (default 100000)
  --prefill-messages N  messages of those support chats, all together (default 10 per visitor)
  --prefill-users N     users with direct conversations, 5 each, 20 messages in each (default visitors / 50, at least 11)
  --prefill-waiting N   of the visitors, how many are still waiting in the queue, not closed (default 0)
cluster (alone; relay and im direct — with --scenarios group, relay group and im group too — on
several deployments; --messages, --warmup, --clients, --window, --payload, --transports, --json apply):
  --relay-only          the relay runs alone, no IM runs (on FerretDB an IM run measures FerretDB)
login-flood (alone; also --rounds (here default 1), --json): two users' chat latency idle, then during wrong logins from many addresses
  --baseline REV|DIR    also measure the broker of this git revision (exported with git archive) or checkout directory
  --flood-addresses N   flooding client addresses, 127.0.0.2 on (default 40)
  --flood-rate N        wrong logins per address and minute, evenly spaced, not waiting for answers
                        (default 30: the default LOGIN_ATTEMPTS_PER_IP_PER_MINUTE, so every address stays within its limit)
  --flood-burst         each address sends its minute's logins all at once (the bursts spread over a second)
  --idle-seconds S      the chat alone (default 10)
  --flood-seconds S     the chat during the flood (default 20)
  --chat-interval MS    each user sends the other a message this often (default 50)
  --deployments L       from: ${DEPLOYMENT_NAMES} (default ${DEFAULT_DEPLOYMENTS});
                        mongodb: $MONGO_URL, else a FerretDB started by the bench; redis: $REDIS_URL, else redis-server`

export class UsageError extends Error {}

export function parseOptions (argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      suite: { type: 'string' },
      scenarios: { type: 'string' },
      messages: { type: 'string' },
      'group-messages': { type: 'string', default: '5000' },
      warmup: { type: 'string' },
      clients: { type: 'string', default: '10' },
      'group-size': { type: 'string', default: '10' },
      'group-senders': { type: 'string', default: '2' },
      window: { type: 'string', default: '100' },
      payload: { type: 'string', default: '256' },
      transports: { type: 'string' },
      json: { type: 'string' },
      vs: { type: 'string' },
      qos: { type: 'string', default: '1' },
      rounds: { type: 'string' },
      'load-procs': { type: 'string', default: '1' },
      'idle-connections': { type: 'string', default: '5000' },
      'drain-messages': { type: 'string', default: '10000' },
      kill: { type: 'boolean', default: false },
      'kill-delay': { type: 'string', default: '0' },
      repetitions: { type: 'string', default: '200' },
      prefill: { type: 'string', default: '100000' },
      'prefill-messages': { type: 'string' },
      'prefill-users': { type: 'string' },
      'prefill-waiting': { type: 'string', default: '0' },
      deployments: { type: 'string', default: DEFAULT_DEPLOYMENTS },
      'relay-only': { type: 'boolean', default: false },
      baseline: { type: 'string' },
      'flood-addresses': { type: 'string', default: '40' },
      'flood-rate': { type: 'string', default: '30' },
      'flood-burst': { type: 'boolean', default: false },
      'idle-seconds': { type: 'string', default: '10' },
      'flood-seconds': { type: 'string', default: '20' },
      'chat-interval': { type: 'string', default: '50' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) return 'help'
  const vs = values.vs === undefined ? [] : list('vs', values.vs, OTHER_TARGETS)
  const suites = list('suite', values.suite ?? (vs.length > 0 ? 'relay' : 'relay,im'), SUITES)
  const compare = vs.length > 0 || suites.includes('idle') || suites.includes('drain')
  if (compare && suites.includes('im')) throw new UsageError('--suite im measures this broker\'s IM pipeline against its own relay: it cannot run with --vs, idle or drain')
  if (values.kill && !suites.includes('drain')) throw new UsageError('--kill is a variant of --suite drain')
  if (suites.includes('store-size') && (suites.length > 1 || vs.length > 0)) throw new UsageError('--suite store-size runs alone (its own brokers, an empty store and a pre-filled one)')
  const cluster = suites.includes('cluster')
  if (cluster && (suites.length > 1 || vs.length > 0)) throw new UsageError('--suite cluster runs alone (its own deployments of one to several nodes)')
  const loginFlood = suites.includes('login-flood')
  if (loginFlood && (suites.length > 1 || vs.length > 0)) throw new UsageError('--suite login-flood runs alone (its own brokers; --baseline names another commit)')
  if (values.baseline !== undefined && !loginFlood) throw new UsageError('--baseline is an option of --suite login-flood')
  const visitors = int('prefill', values.prefill, 1, 10_000_000)
  const users = int('prefill-users', values['prefill-users'] ?? String(Math.max(MIN_PREFILL_USERS, Math.floor(visitors / 50))), 0, 1_000_000)
  // each user's five direct conversations go to the next five users: with fewer than 11 two of them would be the same pair
  if (users > 0 && users < MIN_PREFILL_USERS) throw new UsageError(`--prefill-users: 0, or at least ${MIN_PREFILL_USERS}`)
  const groupSize = int('group-size', values['group-size'], 2, MAX_GROUP_MEMBERS)
  return {
    suites,
    scenarios: list('scenarios', values.scenarios ?? (cluster ? 'direct' : IM_SCENARIOS.join(',')), IM_SCENARIOS),
    messages: int('messages', values.messages ?? (cluster ? CLUSTER_MESSAGES : '20000'), 1),
    groupMessages: int('group-messages', values['group-messages'], 1),
    warmup: int('warmup', values.warmup ?? (cluster ? CLUSTER_WARMUP : '1000'), 0),
    // the relay payload numbers publishers with 16 bits
    clients: int('clients', values.clients, 1, 65_535),
    groupSize,
    groupSenders: int('group-senders', values['group-senders'], 1, groupSize),
    // MQTT packet identifiers: at most 65,535 unacknowledged per connection [MQTT-2.3.1-1]
    window: int('window', values.window, 1, 65_535),
    // the broker's default MAX_PACKET_BYTES is 256 KiB, topic and header included
    payload: int('payload', values.payload, HEADER_BYTES, 256 * 1024 - 1024),
    transports: list('transports', values.transports ?? (cluster ? 'tcp' : TRANSPORTS.join(',')), TRANSPORTS),
    ...(values.json === undefined ? {} : { json: values.json }),
    vs,
    qos: list('qos', values.qos, QOS_LEVELS).map((q) => q === '0' ? 0 : 1),
    rounds: int('rounds', values.rounds ?? (loginFlood ? '1' : '3'), 1, 100),
    loadProcs: int('load-procs', values['load-procs'], 1, 64),
    idleConnections: int('idle-connections', values['idle-connections'], 1, 1_000_000),
    drainMessages: int('drain-messages', values['drain-messages'], 1, 10_000_000),
    kill: values.kill,
    killDelayMs: int('kill-delay', values['kill-delay'], 0, 600_000),
    compare,
    repetitions: int('repetitions', values.repetitions, 1, 100_000),
    prefill: {
      visitors,
      supportMessages: int('prefill-messages', values['prefill-messages'] ?? String(visitors * 10), 0, 100_000_000),
      users,
      waiting: int('prefill-waiting', values['prefill-waiting'], 0, visitors)
    },
    deployments: deployments(values.deployments),
    relayOnly: values['relay-only'],
    loginFlood: {
      ...(values.baseline === undefined ? {} : { baseline: values.baseline }),
      // 127.0.0.2 … 127.0.255.255
      floodAddresses: int('flood-addresses', values['flood-addresses'], 1, 65_000),
      floodRate: int('flood-rate', values['flood-rate'], 1, 600_000),
      floodBurst: values['flood-burst'],
      idleSeconds: int('idle-seconds', values['idle-seconds'], 1, 3600),
      floodSeconds: int('flood-seconds', values['flood-seconds'], 1, 3600),
      chatIntervalMs: int('chat-interval', values['chat-interval'], 5, 60_000)
    }
  }
}

function int (name: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got "${text}"`)
  return value
}

function deployments (text: string): Deployment[] {
  const names = [...new Set(text.split(',').map((t) => t.trim()).filter((t) => t !== ''))]
  const parsed = names.map(parseDeployment)
  const unknown = names.filter((_, i) => parsed[i] === undefined)
  if (unknown.length > 0 || names.length === 0) throw new UsageError(`--deployments: expected some of ${DEPLOYMENT_NAMES}, got "${text}"`)
  return parsed as Deployment[]
}

function list<T extends string> (name: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(',').map((t) => t.trim()).filter((t) => t !== '')
  const unknown = items.filter((t) => !(allowed as readonly string[]).includes(t))
  if (unknown.length > 0 || items.length === 0) throw new UsageError(`--${name}: expected some of ${allowed.join(', ')}, got "${text}"`)
  return [...new Set(items)] as T[]
}
