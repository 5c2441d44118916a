/**
 * `npm run bench [-- options]`, per transport (MQTT/TCP, MQTT/WebSocket), against one fresh broker
 * process per transport (so one transport's heap does not inflate the next one's figures):
 *
 * - suite `relay`: QoS 1 relay throughput and latency, N publisher → subscriber pairs (relay.ts);
 * - suite `im`: the IM pipeline (im.ts) — `direct` (N pairs) and `group` (G members, S senders) —
 *   each next to its plain-relay baseline through the same broker: `relay` for `direct`,
 *   `relay group` (relay-group.ts) for `group`, so that IM ÷ relay shows what the pipeline costs.
 *
 * With `--vs mosquitto,aedes`, or the suites `idle` and `drain`, the comparison engine runs
 * instead (compare.ts): relay, idle connections and offline drain against this broker and the
 * others, on lean load clients, over several rounds. `--suite store-size` runs alone
 * (store-size.ts): single operations timed on an empty store, then on one pre-filled with
 * 100,000 visitors' history. `--suite cluster` runs alone too (cluster.ts): relay and IM on one
 * LevelDB node, one MongoDB node, and one to three nodes on MongoDB + Redis. `--suite login-flood`
 * runs alone as well (login-flood.ts): two users' chat latency while idle and during a flood of
 * wrong logins from many addresses, this tree next to `--baseline` (another commit).
 *
 * Exits 1 if any message was lost, duplicated or stored twice, 2 on an error.
 * See bench/README.md for what the figures mean.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { LOAD_FROM_ONE_ADDRESS, imBrokerEnv, startBroker } from './broker-process.js'
import { stopAllChildren } from './child.js'
import { closeAllClients } from './clients.js'
import { comparisonFailures, describeComparison, runComparison, type ComparisonResults } from './compare.js'
import { drainRatios, formatComparison, idleRatios, relayRatios, summariseDrain, summariseIdle, summariseRelay } from './compare-report.js'
import { runImDirect, runImGroup, type ImRunOptions } from './im.js'
import { adminLogin } from './im-setup.js'
import { mosquittoMissing, mosquittoVersion } from './mosquitto-process.js'
import { USAGE, parseOptions, type BenchOptions, type Transport } from './options.js'
import { rssBytes } from './proc.js'
import { runRelay } from './relay.js'
import { runRelayGroup } from './relay-group.js'
import { runStoreSize } from './store-size.js'
import { correctnessFailures, formatComparisons, formatTable, ratios, type Comparison, type ResultRow } from './report.js'

/** aedes does not export its package.json: read it next to its entry point */
const AEDES_VERSION = (JSON.parse(readFileSync(join(dirname(createRequire(import.meta.url).resolve('aedes')), 'package.json'), 'utf8')) as { version: string }).version

/** a run's result: the table's figures, and the others that only the JSON file gets */
type Row = ResultRow & { idMismatches?: number, brokerIdleRssBytes?: number | null }

/** Every run of one transport, in order, against one broker. */
async function runTransport (transport: Transport, options: BenchOptions, adminPassword: string): Promise<{ rows: Row[], comparisons: Comparison[] }> {
  const im = options.suites.includes('im')
  const broker = await startBroker(im ? imBrokerEnv(options.payload, adminPassword) : LOAD_FROM_ONE_ADDRESS)
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

type Machine = Record<string, string | number>

async function main (): Promise<number> {
  let parsed: BenchOptions | 'help'
  try {
    parsed = parseOptions(process.argv.slice(2))
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`)
    return 64 // EX_USAGE
  }
  if (parsed === 'help') {
    console.log(USAGE)
    return 0
  }
  const options = parsed
  const cpu = cpus()
  const machine: Machine = { node: process.version, platform: `${process.platform} ${process.arch}`, cpuModel: cpu[0]?.model ?? 'unknown', cpuCount: cpu.length }
  if (options.compare) return await compareMain(options, machine)
  if (options.suites.includes('store-size')) return await runStoreSize(options, machine)
  if (options.suites.includes('login-flood')) {
    const { runLoginFlood } = await import('./login-flood.js')
    return await runLoginFlood(options, machine)
  }
  if (options.suites.includes('cluster')) {
    // loaded for this suite only: it brings the tests' FerretDB and Redis helpers
    const { runCluster } = await import('./cluster.js')
    return await runCluster(options, machine)
  }
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

/** `--vs`, `idle`, `drain`: every target, every round, then the tables of medians and ratios. */
async function compareMain (options: BenchOptions, machine: Machine): Promise<number> {
  if (options.vs.includes('mosquitto') && mosquittoMissing() === undefined) machine.mosquitto = mosquittoVersion()
  machine.aedes = AEDES_VERSION
  console.log(describeComparison(options))
  console.log(`${machine.node} on ${machine.platform}, ${machine.cpuCount} × ${machine.cpuModel}${machine.mosquitto ? `, ${machine.mosquitto}` : ''}, aedes ${AEDES_VERSION}\n`)
  const results = await runComparison(options)
  console.log(`\n${formatComparison(results, options.rounds)}\n`)
  if (options.json !== undefined) {
    writeFileSync(options.json, `${JSON.stringify(comparisonJson(results, options, machine), null, 2)}\n`)
    console.log(`results written to ${options.json}`)
  }
  const failures = comparisonFailures(results)
  for (const failure of failures) console.error(`FAIL: ${failure}`)
  return failures.length > 0 ? 1 : 0
}

function comparisonJson (results: ComparisonResults, options: BenchOptions, machine: Machine): unknown {
  const relay = summariseRelay(results.relay)
  const idle = summariseIdle(results.idle)
  const drain = summariseDrain(results.drain)
  return {
    benchmark: 'mqtt-im comparison',
    date: new Date().toISOString(),
    ...machine,
    options,
    targets: results.targets,
    skipped: results.skipped,
    medians: { relay, idle, drain },
    ratios: { relay: relayRatios(relay), idle: idleRatios(idle), drain: drainRatios(drain) },
    rounds: { relay: results.relay, idle: results.idle, drain: results.drain }
  }
}

/** No run re-establishes a connection, so nothing is ever resent: any loss or duplicate is a failure. */
function verdict (rows: Row[]): number {
  const failures = correctnessFailures(rows, (r) => `${r.run} over ${r.transport}`)
  for (const failure of failures) console.error(`FAIL: ${failure}`)
  return failures.length > 0 ? 1 : 0
}

let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return
    interrupted = true
    console.error(`\n${signal}: stopping the brokers`)
    closeAllClients()
    void stopAllChildren().finally(() => process.exit(130))
  })
}

main().then(
  (code) => { if (!interrupted) process.exit(code) },
  async (err: unknown) => {
    if (interrupted) return // the signal handler is already stopping and exits with 130
    console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    closeAllClients()
    await stopAllChildren()
    process.exit(2)
  }
)
