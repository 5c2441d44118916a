/**
 * `npx tsx bench/soak.ts [--minutes 20]`: a broker under a steady mixed load with churn, for
 * minutes on end, watched for two things a short benchmark cannot see (bench/README.md, "soak"):
 *
 * - deliveries held back: a message acknowledged to its sender and stored, that never reached a
 *   member's persistent session (soak-ledger.ts), and duplicates;
 * - memory that only grows: the broker's used heap after two forced full GCs every minute, and
 *   once every client has left, next to the stored sessions, connections and file descriptors.
 *
 * The load (soak-clients.ts, soak-support.ts): users chatting in groups and direct conversations
 * with reconnects (half of them dropping the socket), visitors through the widget's flow, agents
 * answering them, devices fed commands by a controller. The broker runs as the README starts it —
 * a child process on a temporary DATA_DIR (LevelDB) — with `--inspect` on a loopback port for the
 * heap. Exits 1 when anything was lost, stored twice or held back, 2 on an error.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LOAD_FROM_ONE_ADDRESS, startBroker } from './broker-process.js'
import { makeTempDir, stopAllChildren } from './child.js'
import { adminLogin, createConversation, createDevice, createUsers, firstSiteKey, type ImUser } from './im-setup.js'
import { freePort } from './ports.js'
import { ChatUser, Controller, Device, sleep } from './soak-clients.js'
import { DeliveryLedger, type Chat } from './soak-ledger.js'
import { BrokerProbe } from './soak-probe.js'
import { printCheck, printSnapshotDiff, SoakTable, STEADY_FROM_MINUTE } from './soak-report.js'
import { Agent, Visitors } from './soak-support.js'
import type { Message } from '../shared/protocol.js'

export interface SoakOptions {
  minutes: number
  users: number
  /** user messages per second, all users together */
  rate: number
  visitorsPerSecond: number
  agents: number
  devices: number
  reconnectsPerMinute: number
  /**
   * a directory for heap snapshots: of the fresh broker and of the broker after everyone left, and
   * under load at minute STEADY_FROM_MINUTE and at the last minute (runs of 5 minutes or more)
   */
  snapshots?: string
  json?: string
}

const DEFAULTS: SoakOptions = { minutes: 20, users: 100, rate: 33, visitorsPerSecond: 5, agents: 5, devices: 3, reconnectsPerMinute: 15 }
const USAGE = `usage: npx tsx bench/soak.ts [--minutes 20] [--users 100] [--rate 33] [--visitors 5] [--agents 5]
       [--devices 3] [--reconnects 15] [--snapshots DIR] [--json FILE]`
const GROUP_SIZE = 5
/** visitors under way at once, at most (a slow broker gets fewer, not a pile-up) */
const VISITORS_IN_FLIGHT = 200
const AGENT_CAPACITY = 20
/** after the load: how long nothing may arrive before the deliveries are checked */
const QUIET_MS = 5000
const QUIET_LIMIT_MS = 60_000
/** visitors' session expiry (SESSION_EXPIRY_VISITOR_SECONDS below), a sweep, and a margin */
const SESSIONS_GONE_MS = (120 + 30 + 10) * 1000

/**
 * One address brings the whole load (rate limits lifted, bench/broker-process.ts); visitors'
 * sessions expire after 2 minutes and the sweep runs every 30 s, so that the store reaches a
 * steady state within the run; devices may be sent commands by users.
 */
function brokerEnv (adminPassword: string, aclFile: string, metricsPort: number, inspectPort: number): Record<string, string> {
  return {
    ...LOAD_FROM_ONE_ADDRESS,
    VISITORS_PER_IP_PER_MINUTE: '1000000',
    NEW_VISITORS_PER_SITE_PER_MINUTE: '1000000',
    NEW_VISITORS_SOURCE_SHARE_PERCENT: '100',
    SESSION_EXPIRY_VISITOR_SECONDS: '120',
    SESSION_SWEEP_SECONDS: '30',
    ADMIN_PASSWORD: adminPassword,
    ACL_FILE: aclFile,
    METRICS_PORT: String(metricsPort),
    NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}`
  }
}

const ACL = 'pattern readwrite devices/%u/#\nrole user\ntopic write devices/+/cmd\n'

export async function runSoak (o: SoakOptions): Promise<number> {
  console.log(`mqtt-im soak — ${o.minutes} min: ${o.users} users at ${o.rate} msg/s with ${o.reconnectsPerMinute} reconnects/min (half abrupt), ` +
    `${o.visitorsPerSecond} visitors/s, ${o.agents} agents, ${o.devices} devices`)
  const adminPassword = randomBytes(18).toString('base64url')
  const aclFile = join(makeTempDir('mqtt-im-soak-'), 'acl')
  writeFileSync(aclFile, ACL)
  const [metricsPort, inspectPort] = [await freePort(), await freePort()]
  const broker = await startBroker(brokerEnv(adminPassword, aclFile, metricsPort, inspectPort))
  const probe = await BrokerProbe.attach(broker.pid, metricsPort, inspectPort)
  const ledger = new DeliveryLedger()
  let stopped = false
  const isStopped = (): boolean => stopped
  try {
    const admin = await adminLogin(broker.httpUrl, adminPassword)
    const uids = Array.from({ length: o.users }, (_, i) => `u${String(i).padStart(3, '0')}`)
    const people = await createUsers(broker.httpUrl, admin, [...uids, 'ctl'])
    const users = people.slice(0, o.users)
    const agentUsers = await createUsers(broker.httpUrl, admin, Array.from({ length: o.agents }, (_, i) => `agent${i}`), 'agent')
    const deviceIds = await Promise.all(Array.from({ length: o.devices }, async (_, i) => await createDevice(broker.httpUrl, admin, `dev${i}`, ['support/queue'])))
    const chats = await createChats(broker.httpUrl, users)
    const siteKey = await firstSiteKey(broker.httpUrl, admin)

    const table = new SoakTable()
    const fresh = await probe.sample()
    table.row('fresh', fresh)
    if (o.snapshots) await probe.snapshot(join(o.snapshots, 'fresh.heapsnapshot'))

    const chatUsers = users.map((u) => new ChatUser(broker.mqttUrl, u, chats.filter((c) => c.members.includes(u.uid)).map((c) => c.cid), ledger))
    const devices = deviceIds.map((d) => new Device(broker.mqttUrl, d.uid, d.secret, ledger))
    for (const client of [...chatUsers, ...devices]) await client.connect()
    const controller = await Controller.connect(broker.mqttUrl, people.at(-1)!, deviceIds.map((d) => d.uid), ledger)
    const agents = agentUsers.map((u) => new Agent(u))
    for (const agent of agents) await agent.connect(broker.wsUrl, AGENT_CAPACITY)
    const visitors = new Visitors({ httpUrl: broker.httpUrl, wsUrl: broker.wsUrl, siteKey })

    // the load: each timer does one small thing per tick
    let bounces = 0
    const churners = [...chatUsers, ...devices]
    const timers = [
      setInterval(() => {
        for (let tries = 0; tries < 3; tries++) if (chatUsers[Math.floor(Math.random() * chatUsers.length)]!.send()) return
      }, 1000 / o.rate),
      setInterval(() => {
        if (visitors.inFlight < VISITORS_IN_FLIGHT) void visitors.visit(visitors.started % 2 === 0)
      }, 1000 / o.visitorsPerSecond),
      setInterval(() => {
        const who = chatUsers[Math.floor(Math.random() * chatUsers.length)]!
        void who.bounce(bounces++ % 2 === 0, 150 + Math.random() * 1500, isStopped)
      }, 60_000 / o.reconnectsPerMinute),
      // each device goes away about every 40 s, in turn, alternately dropping its socket
      setInterval(() => { void devices[bounces % Math.max(1, devices.length)]?.bounce(bounces % 2 === 1, 150 + Math.random() * 1500, isStopped) }, 40_000 / Math.max(1, devices.length)),
      // a connection the broker closed comes back
      setInterval(() => { for (const c of churners) if (!c.connected) void c.reconnect(isStopped) }, 2000)
    ]
    controller.start()
    const start = Date.now()
    for (let minute = 1; minute <= o.minutes; minute++) {
      await sleep(Math.max(0, start + minute * 60_000 - Date.now()))
      table.row(String(minute), await probe.sample(), {
        ...ledger.counts, visitors: visitors.completed, reconnects: churners.reduce((n, c) => n + c.reconnects, 0), openMs: visitors.takeOpenMs()
      })
      // two snapshots minutes apart under a steady load: what grows with the traffic itself
      if (o.snapshots && o.minutes >= STEADY_FROM_MINUTE + 2 && (minute === STEADY_FROM_MINUTE || minute === o.minutes)) {
        await probe.snapshot(join(o.snapshots, minute === o.minutes ? 'loaded.heapsnapshot' : 'steady.heapsnapshot'))
      }
    }

    // the end: no new load; everyone connected again, and quiet, before the deliveries are checked
    for (const timer of timers) clearInterval(timer)
    controller.stop()
    stopped = true
    const ending = Date.now()
    while (visitors.inFlight > 0 && Date.now() - ending < 30_000) await sleep(100)
    stopped = false
    await Promise.all(churners.map(async (c) => { await c.reconnect(() => Date.now() - ending > 60_000) }))
    await quiet(() => ledger.counts.received)
    const history = async (cid: string, reader: string): Promise<Message[]> => await readHistory(broker.httpUrl, cid, users.find((u) => u.uid === reader)!.token)
    const check = await ledger.check(chats, history)
    await Promise.all([...churners, ...agents, controller].map(async (c) => { await c.close() }))
    await sleep(5000)
    table.row('left', await probe.sample())
    // …and once the visitors' sessions have expired and been swept: what is left is the users',
    // agents' and devices' sessions (kept), and whatever nobody lets go of
    await sleep(SESSIONS_GONE_MS)
    const expired = await probe.sample()
    table.row('expired', expired)
    console.log(`\n${table.format()}\n`)
    const failures = printCheck(check, visitors, agents, table, fresh, expired)
    if (o.snapshots) {
      await probe.snapshot(join(o.snapshots, 'expired.heapsnapshot'))
      if (o.minutes >= STEADY_FROM_MINUTE + 2) printSnapshotDiff(join(o.snapshots, 'steady.heapsnapshot'), join(o.snapshots, 'loaded.heapsnapshot'))
      printSnapshotDiff(join(o.snapshots, 'fresh.heapsnapshot'), join(o.snapshots, 'expired.heapsnapshot'))
    }
    if (o.json) writeFileSync(o.json, `${JSON.stringify({ benchmark: 'mqtt-im soak', date: new Date().toISOString(), options: o, minutes: table.rows, check }, null, 2)}\n`)
    return failures > 0 ? 1 : 0
  } finally {
    stopped = true
    probe.close()
    await broker.stop()
  }
}

/** Groups of GROUP_SIZE users (the first one creates it), and direct conversations between neighbours. */
async function createChats (httpUrl: string, users: ImUser[]): Promise<Chat[]> {
  const chats: Chat[] = []
  for (let i = 0; i + GROUP_SIZE <= users.length; i += GROUP_SIZE) {
    const members = users.slice(i, i + GROUP_SIZE)
    chats.push({ cid: await createConversation(httpUrl, members[0]!, 'group', members.slice(1).map((m) => m.uid)), members: members.map((m) => m.uid) })
  }
  for (let i = 0; i + 1 < users.length; i += 2) {
    chats.push({ cid: await createConversation(httpUrl, users[i]!, 'direct', [users[i + 1]!.uid]), members: [users[i]!.uid, users[i + 1]!.uid] })
  }
  return chats
}

async function readHistory (httpUrl: string, cid: string, token: string): Promise<Message[]> {
  const messages: Message[] = []
  for (;;) {
    const res = await fetch(`${httpUrl}/api/v1/conversations/${cid}/messages?after=${messages.at(-1)?.seq ?? 0}&limit=200`, { headers: { authorization: `Bearer ${token}` } })
    if (!res.ok) throw new Error(`history of ${cid}: HTTP ${res.status} ${await res.text()}`)
    const page = await res.json() as { messages: Message[] }
    if (page.messages.length === 0) return messages
    messages.push(...page.messages)
  }
}

/** Waits until `count()` has not moved for QUIET_MS (at most QUIET_LIMIT_MS). */
async function quiet (count: () => number): Promise<void> {
  const started = Date.now()
  let last = count()
  let movedAt = Date.now()
  while (Date.now() - movedAt < QUIET_MS && Date.now() - started < QUIET_LIMIT_MS) {
    await sleep(250)
    if (count() !== last) { last = count(); movedAt = Date.now() }
  }
}

export function parseSoakOptions (args: string[]): SoakOptions | 'help' {
  const o: SoakOptions = { ...DEFAULTS }
  const numeric: Record<string, keyof SoakOptions> = { '--minutes': 'minutes', '--users': 'users', '--rate': 'rate', '--visitors': 'visitorsPerSecond', '--agents': 'agents', '--devices': 'devices', '--reconnects': 'reconnectsPerMinute' }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--help' || arg === '-h') return 'help'
    const value = args[++i]
    if (value === undefined) throw new Error(`${arg} needs a value`)
    if (arg === '--snapshots') o.snapshots = value
    else if (arg === '--json') o.json = value
    else if (numeric[arg] !== undefined) {
      const n = Number(value)
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${arg} takes a positive number, not ${value}`)
      Object.assign(o, { [numeric[arg]]: n })
    } else throw new Error(`unknown option ${arg}`)
  }
  if (o.users < GROUP_SIZE) throw new Error(`--users must be at least ${GROUP_SIZE}`)
  return o
}

let interrupted = false
process.on('SIGINT', () => {
  interrupted = true
  console.error('\nSIGINT: stopping the broker')
  void stopAllChildren().finally(() => process.exit(130))
})

let options: SoakOptions | 'help'
try {
  options = parseSoakOptions(process.argv.slice(2))
} catch (err) {
  console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`)
  process.exit(64)
}
if (options === 'help') {
  console.log(USAGE)
  process.exit(0)
}
runSoak(options).then((code) => { if (!interrupted) process.exit(code) }, async (err: unknown) => {
  if (interrupted) return
  console.error(`soak failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
  await stopAllChildren()
  process.exit(2)
})
