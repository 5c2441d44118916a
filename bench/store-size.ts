/**
 * `npm run bench -- --suite store-size`: does an operation cost more when the store is full?
 * The same operations (store-size-ops.ts), timed by the same client, against a broker on an empty
 * store, then against a broker on a store pre-filled with 100,000 visitors' history
 * (store-prefill.ts); then each operation's figures side by side, pre-filled ÷ empty, and which
 * ones grow (store-size-report.ts). See bench/README.md.
 *
 * Exits 1 if an answer was lost or a message delivered twice, 2 on an error.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { LOAD_FROM_ONE_ADDRESS, startBroker, type BrokerReuse } from './broker-process.js'
import { makeTempDir, removeTempDir } from './child.js'
import { adminLogin, createConversation, createUsers, firstSiteKey } from './im-setup.js'
import type { BenchOptions } from './options.js'
import { sleep } from './clients.js'
import { cpuSeconds, rssBytes } from './proc.js'
import { MB, ms } from './report.js'
import { summarise } from './stats.js'
import { prefillStore, DIRECT_MESSAGES, DIRECT_PEERS, type PrefillResult } from './store-prefill.js'
import { OPERATIONS, WARMUP_REPETITIONS, measureOperations } from './store-size-ops.js'
import { figures, formatStoreSize, growth, type StoreName, type StoreRun } from './store-size-report.js'

const IDLE_WINDOW_MS = 5000

/**
 * The whole load comes from one address (LOAD_FROM_ONE_ADDRESS), new visitors too. Idle release
 * is pushed to a day so that chats the pre-fill left waiting (--prefill-waiting) stay in the
 * queue for the whole run rather than all closing at its start; its sweep still runs every second.
 */
function brokerEnv (adminPassword: string): Record<string, string> {
  return {
    ...LOAD_FROM_ONE_ADDRESS,
    VISITORS_PER_IP_PER_MINUTE: '1000000',
    NEW_VISITORS_PER_SITE_PER_MINUTE: '1000000',
    NEW_VISITORS_SOURCE_SHARE_PERCENT: '100', // one address is the whole load: no other network to be fair to
    IDLE_RELEASE_MS: String(86_400_000),
    ADMIN_PASSWORD: adminPassword
  }
}

export async function runStoreSize (options: BenchOptions, machine: Record<string, string | number>): Promise<number> {
  const { visitors, supportMessages, users, waiting } = options.prefill
  console.log(`mqtt-im bench — store size: ${options.repetitions} repetitions of each operation (after ${WARMUP_REPETITIONS} warm-up), one at a time, transports ${options.transports.join(', ')}`)
  console.log(`  pre-filled store: ${visitors} visitors (${waiting} of them waiting), ${supportMessages} support messages, ${users} users × ${DIRECT_PEERS} direct conversations × ${DIRECT_MESSAGES} messages`)
  console.log(`${machine.node} on ${machine.platform}, ${machine.cpuCount} × ${machine.cpuModel}\n`)

  const adminPassword = randomBytes(18).toString('base64url')
  const empty = await measureStore('empty', options, adminPassword)
  const dataDir = makeTempDir('mqtt-im-bench-store-')
  try {
    console.log(`\npre-filling ${dataDir} …`)
    const prefill = await prefillStore(dataDir, options.prefill, (line) => console.log(line))
    console.log(`pre-fill: ${prefill.messages} messages, ${prefill.operations} writes in ${prefill.writeSeconds.toFixed(1)} s, ` +
      `then ${prefill.settleSeconds.toFixed(1)} s until LevelDB's compaction was quiet; ${(prefill.bytesOnDisk / MB).toFixed(0)} MB on disk\n`)
    const full = await measureStore('pre-filled', options, adminPassword, { dataDir })
    console.log(`\n${formatStoreSize(empty, full)}\n`)
    if (options.json !== undefined) {
      writeFileSync(options.json, `${JSON.stringify(storeSizeJson(options, machine, prefill, empty, full), null, 2)}\n`)
      console.log(`results written to ${options.json}`)
    }
    return verdict([empty, full])
  } finally {
    removeTempDir(dataDir)
  }
}

async function measureStore (store: StoreName, options: BenchOptions, adminPassword: string, reuse?: BrokerReuse): Promise<StoreRun> {
  const spawnedAt = performance.now()
  const broker = await startBroker(brokerEnv(adminPassword), reuse)
  const startSeconds = (performance.now() - spawnedAt) / 1000
  try {
    const rssAfterStartBytes = rssBytes(broker.pid) ?? null
    const adminToken = await adminLogin(broker.httpUrl, adminPassword)
    // the site new visitors join: the broker's first (created at its first start, or by the pre-fill)
    const siteKey = await firstSiteKey(broker.httpUrl, adminToken)
    const [a, b] = await createUsers(broker.httpUrl, adminToken, ['store-a', 'store-b'])
    const pair = { a: a!, b: b!, cid: await createConversation(broker.httpUrl, a!, 'direct', [b!.uid]) }
    const idleCpuPercent = await idleCpu(broker.pid)
    const results = []
    for (const transport of options.transports) {
      const url = transport === 'tcp' ? broker.mqttUrl : broker.wsUrl
      const result = await measureOperations({ transport, url, httpUrl: broker.httpUrl, brokerPid: broker.pid, siteKey, pair }, options.repetitions)
      const medians = OPERATIONS.map((op) => `${op} ${ms(summarise(Float64Array.from(result.operations[op].latencyMs)).p50)}`)
      console.log(`${store} store, ${transport}: p50 ms — ${medians.join(', ')}`)
      results.push(result)
    }
    return { store, startSeconds, idleCpuPercent, rssAfterStartBytes, rssAtEndBytes: rssBytes(broker.pid) ?? null, results, repetitions: options.repetitions }
  } finally {
    await broker.stop()
  }
}

/**
 * The broker's CPU while nobody asks it anything, before the measurement: its timers (the support
 * sweep, every second), and whatever its start left running (LevelDB compacting what it
 * recovered). The measurement starts after it.
 */
async function idleCpu (pid: number): Promise<number | null> {
  const before = cpuSeconds(pid)
  await sleep(IDLE_WINDOW_MS)
  const after = cpuSeconds(pid)
  return before === undefined || after === undefined ? null : ((after - before) / (IDLE_WINDOW_MS / 1000)) * 100
}

function storeSizeJson (options: BenchOptions, machine: Record<string, string | number>, prefill: PrefillResult, empty: StoreRun, full: StoreRun): unknown {
  const summary = (run: StoreRun) => ({
    store: run.store,
    startSeconds: run.startSeconds,
    rssAfterStartBytes: run.rssAfterStartBytes,
    rssAtEndBytes: run.rssAtEndBytes,
    transports: run.results.map(({ operations: _, ...rest }) => rest),
    operations: figures(run)
  })
  return {
    benchmark: 'mqtt-im store-size',
    date: new Date().toISOString(),
    ...machine,
    options,
    warmupRepetitions: WARMUP_REPETITIONS,
    prefill,
    stores: [summary(empty), summary(full)],
    growth: growth(figures(empty), figures(full))
  }
}

/** Nothing is resent (no connection is re-established): a lost answer or a duplicate is a failure. */
function verdict (runs: StoreRun[]): number {
  const failures = runs.flatMap((run) => run.results.flatMap((r) => {
    const lost = OPERATIONS.reduce((sum, op) => sum + r.operations[op].lost, 0) + r.lostOther
    const problems = [lost > 0 ? `${lost} answers lost` : '', r.duplicates > 0 ? `${r.duplicates} messages delivered twice` : ''].filter((p) => p !== '')
    return problems.length > 0 ? [`${run.store} store over ${r.transport}: ${problems.join(', ')}`] : []
  }))
  for (const failure of failures) console.error(`FAIL: ${failure}`)
  return failures.length > 0 ? 1 : 0
}
