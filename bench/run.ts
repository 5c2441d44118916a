/**
 * `npm run bench [-- options]`: QoS 1 relay throughput and latency through the broker, over MQTT/TCP
 * and over MQTT/WebSocket. Each transport gets a fresh broker process (so one transport's heap
 * does not inflate the next one's memory figure). Exits 1 if any message was lost, 2 on an error.
 * See bench/README.md for what the figures mean.
 */
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import { startBroker, stopAllBrokers } from './broker-process.js'
import { rssBytes } from './proc.js'
import { HEADER_BYTES, closeAllClients, runRelay, type RelayResult } from './relay.js'
import { formatTable } from './report.js'

const TRANSPORTS = ['tcp', 'ws'] as const
type Transport = typeof TRANSPORTS[number]

interface BenchOptions {
  messages: number
  warmup: number
  clients: number
  window: number
  payload: number
  transports: Transport[]
  json?: string
}

const USAGE = `usage: npm run bench -- [options]
  --messages N     measured QoS 1 messages per transport, all publishers together (default 20000)
  --warmup N       warm-up messages per transport, not measured (default 1000)
  --clients N      publisher/subscriber pairs (default 10)
  --window N       unacknowledged messages allowed per publisher (default 100)
  --payload BYTES  payload size, at least ${HEADER_BYTES} (default 256)
  --transports L   comma-separated, from: ${TRANSPORTS.join(', ')} (default tcp,ws)
  --json FILE      also write the results as JSON to FILE`

function parseOptions (argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      messages: { type: 'string', default: '20000' },
      warmup: { type: 'string', default: '1000' },
      clients: { type: 'string', default: '10' },
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
  const transports = values.transports.split(',').map((t) => t.trim()).filter((t) => t !== '')
  const unknown = transports.filter((t) => !(TRANSPORTS as readonly string[]).includes(t))
  if (unknown.length > 0 || transports.length === 0) throw new UsageError(`--transports: unknown transport(s) ${unknown.join(', ')}`)
  return {
    messages: int('messages', values.messages, 1),
    warmup: int('warmup', values.warmup, 0),
    // the payload numbers publishers with 16 bits
    clients: int('clients', values.clients, 1, 65_535),
    window: int('window', values.window, 1),
    // the broker's default MAX_PACKET_BYTES is 256 KiB, topic and header included
    payload: int('payload', values.payload, HEADER_BYTES, 256 * 1024 - 1024),
    transports: [...new Set(transports)] as Transport[],
    ...(values.json === undefined ? {} : { json: values.json })
  }
}

class UsageError extends Error {}

function int (name: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got "${text}"`)
  return value
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
  console.log(`mqtt-im bench: QoS 1 relay — ${options.clients} pairs, ${options.messages} messages (+${options.warmup} warm-up) per transport, window ${options.window}, payload ${options.payload} B`)
  console.log(`${machine.node} on ${machine.platform}, ${machine.cpuCount} × ${machine.cpuModel}\n`)

  const results: Array<RelayResult & { brokerIdleRssBytes: number | null }> = []
  for (const transport of options.transports) {
    const broker = await startBroker()
    try {
      const brokerIdleRssBytes = rssBytes(broker.pid) ?? null
      console.log(`${transport}: running…`)
      const result = await runRelay({
        transport,
        url: transport === 'tcp' ? broker.mqttUrl : broker.wsUrl,
        brokerPid: broker.pid,
        clients: options.clients,
        messages: options.messages,
        warmup: options.warmup,
        window: options.window,
        payloadBytes: options.payload
      })
      results.push({ ...result, brokerIdleRssBytes })
    } finally {
      await broker.stop()
    }
  }

  console.log(`\n${formatTable(results)}\n`)
  console.log('Latency is end to end (publish call → subscriber callback), over the measured messages; lost/dup include the warm-up.')
  if (options.json !== undefined) {
    const report = { benchmark: 'relay-qos1', date: new Date().toISOString(), ...machine, options, results }
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`)
    console.log(`results written to ${options.json}`)
  }
  const lost = results.reduce((sum, r) => sum + r.lost, 0)
  if (lost > 0) {
    console.error(`FAIL: ${lost} message(s) lost`)
    return 1
  }
  return 0
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
