/**
 * `npm run bench -- --suite cluster`: the relay and IM direct runs (and, with `--scenarios group`,
 * relay group and IM group) against several deployments — one node on LevelDB, one on MongoDB,
 * then one, two and three nodes on one MongoDB and one Redis (cluster-nodes.ts) — reporting what
 * a delivered message costs in CPU on the nodes, the MongoDB and the Redis, and whether every one
 * arrived exactly once (cluster-report.ts). Clients are spread round robin so that, with several
 * nodes, each message is published on one node and delivered by another (relay.ts, im.ts).
 *
 * On a 2-core machine the nodes, the database, Redis and the bench's clients share two cores: the
 * totals cannot grow with the nodes. The cost per message and the correctness are the figures.
 *
 * Each deployment and transport gets fresh nodes (and a fresh database); every run goes through
 * them in order. Exits 1 if any message was lost, duplicated or stored twice.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { startBackends, startNodes, type Backends } from './cluster-nodes.js'
import { formatCost, formatCpu, rowJson, type ClusterRow, type CpuByProcess, type ReportNames } from './cluster-report.js'
import { sleep } from './clients.js'
import { CpuMeter, type PhaseCpu, type Watched } from './cpu-meter.js'
import { deploymentLabel, type Deployment } from './deployments.js'
import { runImDirect, runImGroup, type ImRunOptions } from './im.js'
import { adminLogin } from './im-setup.js'
import type { BenchOptions, Transport } from './options.js'
import { runRelay } from './relay.js'
import { runRelayGroup } from './relay-group.js'
import { correctnessFailures } from './report.js'
import type { DeliveryFigures } from './stats.js'

type Machine = Record<string, string | number>

/** idle CPU: measured for IDLE_MS, after IDLE_SETTLE_MS (what the nodes' start left running), before a deployment's runs */
const IDLE_SETTLE_MS = 1000
const IDLE_MS = 3000

/** What every run returns (relay.ts, workload.ts) that a cluster row needs. */
interface RunResult extends DeliveryFigures {
  idMismatches?: number
}

export async function runCluster (options: BenchOptions, machine: Machine): Promise<number> {
  console.log(describe(options))
  console.log(`${machine.node} on ${machine.platform}, ${machine.cpuCount} × ${machine.cpuModel}`)
  const backends = await startBackends(options.deployments)
  const names: ReportNames = { database: backends.mongo?.name ?? 'MongoDB' }
  if (backends.mongo) console.log(`${names.database}: ${backends.mongo.server.url}${backends.mongo.server.pid === undefined ? ' (MONGO_URL: its CPU is not measured)' : ''}`)
  if (backends.redis) console.log(`Redis: ${backends.redis.server.url}${backends.redis.server.pid === undefined ? ' (REDIS_URL: its CPU is not measured)' : ''}`)
  console.log('')
  const rows: ClusterRow[] = []
  try {
    for (const deployment of options.deployments) {
      for (const transport of options.transports) rows.push(...await runDeployment(deployment, transport, backends, options, Number(machine.cpuCount)))
    }
  } finally {
    await backends.stop()
  }

  console.log(`\nThroughput, latency and CPU time per delivered message (µs/msg: CPU-seconds of the measured phase ÷ deliveries):\n\n${formatCost(rows, names)}\n`)
  console.log(`CPU during the measured phase, % of one core (machine: % of all ${machine.cpuCount} cores):\n\n${formatCpu(rows, names)}\n`)
  console.log('lost/dup include the warm-up and the IM echoes (dup: also copies stored under another message id); both must be 0.')
  if (options.json !== undefined) {
    const report = { benchmark: 'mqtt-im cluster', date: new Date().toISOString(), ...machine, database: names.database, options, results: rows.map((r) => rowJson(r, names)) }
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`)
    console.log(`results written to ${options.json}`)
  }
  const failures = correctnessFailures(rows, (r) => `${r.deployment} ${r.run} over ${r.transport}`)
  for (const failure of failures) console.error(`FAIL: ${failure}`)
  return failures.length > 0 ? 1 : 0
}

/** Every run of one deployment over one transport, on fresh nodes. */
async function runDeployment (deployment: Deployment, transport: Transport, backends: Backends, options: BenchOptions, cores: number): Promise<ClusterRow[]> {
  const label = deploymentLabel(deployment)
  const adminPassword = randomBytes(18).toString('base64url')
  const started = await startNodes(deployment, backends, options.payload, adminPassword)
  const rows: ClusterRow[] = []
  try {
    const { nodes, watched } = started
    const idle = await idleCpu(deployment, watched, backends)
    const first = nodes[0]!
    const urls = nodes.map((node) => transport === 'tcp' ? node.mqttUrl : node.wsUrl)
    const common = { transport, url: urls[0]!, urls, brokerPid: first.pid, warmup: options.warmup, window: options.window, payloadBytes: options.payload }
    const measure = async (run: string, go: (meter: CpuMeter) => Promise<RunResult>): Promise<void> => {
      const meter = new CpuMeter(watched)
      const result = await go(meter)
      const row = { ...toRow(deployment, label, run, transport, result, meter.result, backends, cores), idle }
      console.log(`${label} ${transport}: ${run} — ${row.messagesPerSecond.toFixed(0)} msg/s, p50 ${row.latencyMs.p50.toFixed(1)} ms, lost ${row.lost}, dup ${row.duplicates}`)
      rows.push(row)
    }
    const imOptions: ImRunOptions = { ...common, httpUrl: first.httpUrl, adminToken: await adminLogin(first.httpUrl, adminPassword), messages: options.messages }
    if (options.scenarios.includes('direct')) {
      await measure('relay', (phase) => runRelay({ ...common, clients: options.clients, messages: options.messages, phase }))
      if (!options.relayOnly) await measure('im direct', (phase) => runImDirect({ ...imOptions, phase }, { pairs: options.clients }))
    }
    if (options.scenarios.includes('group')) {
      const group = { members: options.groupSize, senders: options.groupSenders }
      await measure('relay group', (phase) => runRelayGroup({ ...common, messages: options.groupMessages, phase }, group))
      if (!options.relayOnly) await measure('im group', (phase) => runImGroup({ ...imOptions, messages: options.groupMessages, phase }, group))
    }
    return rows
  } finally {
    await started.stop()
  }
}

/** CPU while idle, the nodes just started and no client connected: timers, the drivers' monitoring, Redis's cron. */
async function idleCpu (deployment: Deployment, watched: Watched[], backends: Backends): Promise<ClusterRow['idle']> {
  const meter = new CpuMeter(watched)
  await sleep(IDLE_SETTLE_MS)
  meter.begin()
  await sleep(IDLE_MS)
  meter.end()
  return { wallSeconds: meter.result.wallSeconds, ...byProcess(deployment, meter.result, backends) }
}

function byProcess (deployment: Deployment, cpu: PhaseCpu, backends: Backends): CpuByProcess {
  const seconds = (name: string): number | null => cpu.processes.find((p) => p.name === name)?.seconds ?? null
  return {
    nodes: Array.from({ length: deployment.nodes }, (_, i) => seconds(`node ${i + 1}`)),
    ...(deployment.store === 'mongodb' && backends.mongo ? { database: seconds(backends.mongo.name) } : {}),
    ...(deployment.redis && backends.redis ? { redis: seconds(backends.redis.name) } : {}),
    bench: seconds('bench'),
    machine: cpu.machineSeconds
  }
}

function toRow (deployment: Deployment, label: string, run: string, transport: string, result: RunResult, cpu: PhaseCpu, backends: Backends, cores: number): Omit<ClusterRow, 'idle'> {
  return {
    deploymentName: deployment.name,
    deployment: label,
    run,
    transport,
    messages: result.messages,
    delivered: result.delivered,
    messagesPerSecond: result.messagesPerSecond,
    latencyMs: result.latencyMs,
    lost: result.lost,
    duplicates: result.duplicates,
    idMismatches: result.idMismatches ?? 0,
    wallSeconds: cpu.wallSeconds,
    cpuSeconds: byProcess(deployment, cpu, backends),
    cores
  }
}

function describe (options: BenchOptions): string {
  const lines = [`mqtt-im bench — cluster: ${options.deployments.map(deploymentLabel).join(', ')}; window ${options.window} per sender, payload ${options.payload} B, ${options.warmup} warm-up messages per run, transports ${options.transports.join(', ')}`]
  if (options.scenarios.includes('direct')) {
    lines.push(`  relay:       ${options.clients} publisher → subscriber pairs, ${options.messages} QoS 1 messages; publisher i on node i mod N, its subscriber on the next node`)
    if (!options.relayOnly) lines.push(`  im direct:   ${options.clients} sender → recipient pairs, ${options.messages} send commands; sender i on node i mod N, its recipient on the next node`)
  }
  if (options.scenarios.includes('group')) {
    const { groupSize: g, groupSenders: s, groupMessages: n } = options
    lines.push(`  relay group: ${g} clients on one topic, ${s} publishing, ${n} messages × ${g - 1} recipients; client i on node i mod N`)
    if (!options.relayOnly) lines.push(`  im group:    ${g} members of one group, ${s} sending, ${n} send commands × ${g - 1} recipients; member i on node i mod N`)
  }
  return lines.join('\n')
}
