/**
 * `npm run bench [-- options]`, per transport (MQTT/TCP, MQTT/WebSocket), against one fresh broker
 * process per transport (so one transport's heap does not inflate the next one's figures):
 *
 * - suite `relay`: QoS 1 relay throughput and latency, N publisher → subscriber pairs (relay.ts);
 * - suite `im`: the IM pipeline (im.ts) — `direct` (N pairs) and `group` (G members, S senders) —
 *   each next to its plain-relay baseline through the same broker: `relay` for `direct`,
 *   `relay group` (relay-group.ts) for `group`, so that IM ÷ relay shows what the pipeline costs.
 *
 * Exits 1 if any message was lost, duplicated or stored twice, 2 on an error.
 * See bench/README.md for what the figures mean.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import { startBroker, stopAllBrokers } from './broker-process.js'
import { closeAllClients } from './clients.js'
import { IM_SCENARIOS, runImDirect, runImGroup, type ImRunOptions, type ImScenario } from './im.js'
import { adminLogin } from './im-setup.js'
import { rssBytes } from './proc.js'
import { HEADER_BYTES, runRelay } from './relay.js'
import { runRelayGroup } from './relay-group.js'
import { formatComparisons, formatTable, ratios, type Comparison, type ResultRow } from './report.js'

const TRANSPORTS = ['tcp', 'ws'] as const
type Transport = typeof TRANSPORTS[number]
const SUITES = ['relay', 'im'] as const
type Suite = typeof SUITES[number]

/** the broker's defaults for a chat message and a command; raised for larger --payload */
const BROKER_MESSAGE_MAX_CHARS = 10_000
const BROKER_COMMAND_MAX_BYTES = 65_536
/** the broker's limit on group size */
const MAX_GROUP_MEMBERS = 500

interface BenchOptions {
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
}

const USAGE = `usage: npm run bench -- [options]
  --suite L           comma-separated, from: ${SUITES.join(', ')} (default relay,im); im runs its relay baselines too
  --scenarios L       IM scenarios, from: ${IM_SCENARIOS.join(', ')} (default direct,group)
  --messages N        measured messages per transport for relay and im direct, all senders together (default 20000)
  --group-messages N  measured messages per transport for im group and relay group; each one is
                      delivered to group-size − 1 members (default 5000)
  --warmup N          warm-up messages per run, not measured (default 1000)
  --clients N         sender/recipient pairs for relay and im direct (default 10)
  --group-size G      members of the group, every one of them receiving (default 10)
  --group-senders S   members of the group sending, at most G (default 2)
  --window N          unacknowledged messages allowed per sender (default 100)
  --payload BYTES     relay payload size, and size of an IM send command; at least ${HEADER_BYTES} (default 256)
  --transports L      comma-separated, from: ${TRANSPORTS.join(', ')} (default tcp,ws)
  --json FILE         also write the results as JSON to FILE`

function parseOptions (argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      suite: { type: 'string', default: SUITES.join(',') },
      scenarios: { type: 'string', default: IM_SCENARIOS.join(',') },
      messages: { type: 'string', default: '20000' },
      'group-messages': { type: 'string', default: '5000' },
      warmup: { type: 'string', default: '1000' },
      clients: { type: 'string', default: '10' },
      'group-size': { type: 'string', default: '10' },
      'group-senders': { type: 'string', default: '2' },
      window: { type: 'string', default: '100' },
      payload: { type: 'string', default: '256' },
      transports: { type: 'string', default: TRANSPORTS.join(',') },
      json: { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const groupSize = int('group-size', values['group-size'], 2, MAX_GROUP_MEMBERS)
  return {
    suites: list('suite', values.suite, SUITES),
    scenarios: list('scenarios', values.scenarios, IM_SCENARIOS),
    messages: int('messages', values.messages, 1),
    groupMessages: int('group-messages', values['group-messages'], 1),
    warmup: int('warmup', values.warmup, 0),
    // the relay payload numbers publishers with 16 bits
    clients: int('clients', values.clients, 1, 65_535),
    groupSize,
    groupSenders: int('group-senders', values['group-senders'], 1, groupSize),
    window: int('window', values.window, 1),
    // the broker's default MAX_PACKET_BYTES is 256 KiB, topic and header included
    payload: int('payload', values.payload, HEADER_BYTES, 256 * 1024 - 1024),
    transports: list('transports', values.transports, TRANSPORTS),
    ...(values.json === undefined ? {} : { json: values.json })
  }
}

class UsageError extends Error {}

function int (name: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got "${text}"`)
  return value
}

function list<T extends string> (name: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(',').map((t) => t.trim()).filter((t) => t !== '')
  const unknown = items.filter((t) => !(allowed as readonly string[]).includes(t))
  if (unknown.length > 0 || items.length === 0) throw new UsageError(`--${name}: expected some of ${allowed.join(', ')}, got "${text}"`)
  return [...new Set(items)] as T[]
}

/** a run's result: the table's figures, and the others that only the JSON file gets */
type Row = ResultRow & { idMismatches?: number, brokerIdleRssBytes?: number | null }

/** Every run of one transport, in order, against one broker. */
async function runTransport (transport: Transport, options: BenchOptions, adminPassword: string): Promise<{ rows: Row[], comparisons: Comparison[] }> {
  const im = options.suites.includes('im')
  const broker = await startBroker(im ? brokerEnv(options, adminPassword) : LOAD_FROM_ONE_ADDRESS)
  const rows: Row[] = []
  const comparisons: Comparison[] = []
  const report = (row: Row): Row => {
    console.log(`${transport}: ${row.run} — ${row.messagesPerSecond.toFixed(0)} msg/s, p50 ${row.latencyMs.p50.toFixed(1)} ms`)
    rows.push(row)
    return row
  }
  try {
    const brokerIdleRssBytes = rssBytes(broker.pid) ?? null
    const url = transport === 'tcp' ? broker.mqttUrl : broker.wsUrl
    const common = { transport, url, brokerPid: broker.pid, warmup: options.warmup, window: options.window, payloadBytes: options.payload }
    let relay: Row | undefined
    if (options.suites.includes('relay') || (im && options.scenarios.includes('direct'))) {
      relay = report({ run: 'relay', brokerIdleRssBytes, ...await runRelay({ ...common, clients: options.clients, messages: options.messages }) })
    }
    if (!im) return { rows, comparisons }
    const imOptions: ImRunOptions = { ...common, httpUrl: broker.httpUrl, adminToken: await adminLogin(broker.httpUrl, adminPassword), messages: options.messages }
    const group = { members: options.groupSize, senders: options.groupSenders }
    for (const scenario of options.scenarios) {
      if (scenario === 'direct') {
        const direct = report(await runImDirect(imOptions, { pairs: options.clients }))
        comparisons.push({ im: direct, baseline: relay! })
      } else {
        const baseline = report(await runRelayGroup({ ...common, messages: options.groupMessages }, group))
        const result = report(await runImGroup({ ...imOptions, messages: options.groupMessages }, group))
        comparisons.push({ im: result, baseline })
      }
    }
    return { rows, comparisons }
  } finally {
    await broker.stop()
  }
}

/**
 * The bench's whole load comes from one address and a few uids, as fast as the broker takes it:
 * the per-address and per-uid rate limits, meant for abuse, would measure themselves. Lifted here;
 * their cost per message (a token bucket per command) stays in the figures.
 */
const LOAD_FROM_ONE_ADDRESS: Readonly<Record<string, string>> = {
  CONNECTS_PER_IP_PER_MINUTE: '1000000',
  LOGIN_ATTEMPTS_PER_IP_PER_MINUTE: '1000000',
  COMMANDS_PER_SECOND: '100000',
  COMMAND_BURST: '100000',
  CONVERSATIONS_PER_USER_PER_HOUR: '1000000'
}

function brokerEnv (options: BenchOptions, adminPassword: string): Record<string, string> {
  const env: Record<string, string> = { ...LOAD_FROM_ONE_ADDRESS, ADMIN_PASSWORD: adminPassword }
  if (options.payload > BROKER_MESSAGE_MAX_CHARS) env.MESSAGE_MAX_CHARS = String(options.payload)
  if (options.payload + 1024 > BROKER_COMMAND_MAX_BYTES) env.COMMAND_MAX_BYTES = String(options.payload + 1024)
  return env
}

function describe (options: BenchOptions): string {
  const im = options.suites.includes('im')
  const lines = [`mqtt-im bench — window ${options.window} per sender, payload ${options.payload} B, ${options.warmup} warm-up messages per run, transports ${options.transports.join(', ')}`]
  if (options.suites.includes('relay') || (im && options.scenarios.includes('direct'))) {
    lines.push(`  relay:       ${options.clients} publisher → subscriber pairs, ${options.messages} QoS 1 messages`)
  }
  if (im && options.scenarios.includes('direct')) {
    lines.push(`  im direct:   ${options.clients} sender → recipient pairs, ${options.messages} send commands`)
  }
  if (im && options.scenarios.includes('group')) {
    const { groupSize: g, groupSenders: s, groupMessages: n } = options
    lines.push(`  relay group: ${g} clients on one topic, ${s} publishing, ${n} messages × ${g - 1} recipients`)
    lines.push(`  im group:    ${g} members of one group, ${s} sending, ${n} send commands × ${g - 1} recipients`)
  }
  return lines.join('\n')
}

async function main (): Promise<number> {
  let options: BenchOptions
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`)
    return 64 // EX_USAGE
  }
  const cpu = cpus()
  const machine = { node: process.version, platform: `${process.platform} ${process.arch}`, cpuModel: cpu[0]?.model ?? 'unknown', cpuCount: cpu.length }
  console.log(describe(options))
  console.log(`${machine.node} on ${machine.platform}, ${machine.cpuCount} × ${machine.cpuModel}\n`)

  const adminPassword = randomBytes(18).toString('base64url')
  const rows: Row[] = []
  const comparisons: Comparison[] = []
  for (const transport of options.transports) {
    const result = await runTransport(transport, options, adminPassword)
    rows.push(...result.rows)
    comparisons.push(...result.comparisons)
  }

  console.log(`\n${formatTable(rows)}\n`)
  if (comparisons.length === 0) {
    console.log('Latency is end to end (publish call → subscriber callback), over the measured messages; lost/dup include the warm-up.')
  } else {
    console.log('msg/s counts deliveries (a group message counts once per recipient, its echo to the sender not at all). Latency is from the')
    console.log('publish call to the recipient\'s callback, over the measured deliveries; lost/dup include the warm-up and the IM echoes.')
  }
  if (comparisons.length > 0) {
    console.log(`\nIM ÷ relay baseline (same broker process, same transport, same deliveries):\n\n${formatComparisons(comparisons)}\n`)
    console.log('msg/s below 1× and p50/p99/µs above 1× are what the IM pipeline costs.')
  }
  if (options.json !== undefined) {
    const report = { benchmark: 'mqtt-im', date: new Date().toISOString(), ...machine, options, results: rows, comparisons: comparisons.map((c) => ({ im: c.im.run, baseline: c.baseline.run, transport: c.im.transport, ratios: ratios(c) })) }
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`)
    console.log(`results written to ${options.json}`)
  }
  return verdict(rows)
}

/** No run re-establishes a connection, so nothing is ever resent: any loss or duplicate is a failure. */
function verdict (rows: Row[]): number {
  const failures = rows.flatMap((r) => {
    const problems = [
      r.lost > 0 ? `${r.lost} lost` : '',
      r.duplicates > 0 ? `${r.duplicates} duplicated` : '',
      (r.idMismatches ?? 0) > 0 ? `${r.idMismatches} copies with another message id` : ''
    ].filter((p) => p !== '')
    return problems.length > 0 ? [`${r.run} over ${r.transport}: ${problems.join(', ')}`] : []
  })
  for (const failure of failures) console.error(`FAIL: ${failure}`)
  return failures.length > 0 ? 1 : 0
}

let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return
    interrupted = true
    console.error(`\n${signal}: stopping the broker`)
    closeAllClients()
    void stopAllBrokers().finally(() => process.exit(130))
  })
}

main().then(
  (code) => { if (!interrupted) process.exit(code) },
  async (err: unknown) => {
    if (interrupted) return // the signal handler is already stopping and exits with 130
    console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    closeAllClients()
    await stopAllBrokers()
    process.exit(2)
  }
)
