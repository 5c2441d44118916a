/**
 * The broker under test runs in its own process — `node --import tsx broker/main.ts`, what
 * `npm run dev` runs — so that its CPU time and memory can be read apart from the benchmark's
 * clients. Each broker gets a fresh temporary DATA_DIR, listens on 127.0.0.1 with ports chosen by
 * the kernel, and logs at `info` — nothing on the hot path logs at that level — so its "broker
 * ready" line tells the ports.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CONFIG_KEYS } from '../broker/config/schema.js'

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url))
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 10_000

export interface BrokerProcess {
  readonly pid: number
  readonly dataDir: string
  readonly mqttUrl: string
  readonly wsUrl: string
  /** base of the HTTP API, e.g. `http://127.0.0.1:41234` */
  readonly httpUrl: string
  stop (): Promise<void>
}

interface Live { child: ChildProcess, dataDir: string }
const live = new Set<Live>()

// Last resort when the benchmark dies some other way: no broker and no temp dir outlive it.
process.once('exit', () => {
  for (const { child, dataDir } of live) {
    if (isRunning(child)) child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  }
})

/** Starts a broker; `env` adds or overrides settings (the caller's own config variables are ignored). */
export async function startBroker (env: Record<string, string> = {}): Promise<BrokerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mqtt-im-bench-'))
  const childEnv: NodeJS.ProcessEnv = { ...process.env }
  for (const key of [...CONFIG_KEYS, 'CONFIG_FILE']) delete childEnv[key]
  Object.assign(childEnv, {
    HOST: '127.0.0.1', MQTT_PORT: '0', HTTP_PORT: '0', DATA_DIR: dataDir,
    ANONYMOUS_NAMESPACE: 'bench/#', LOG_LEVEL: 'info',
    ...env
  })
  const child = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts'], {
    cwd: PROJECT_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe']
  })
  const entry: Live = { child, dataDir }
  live.add(entry)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const output: string[] = []
  let onReady: (ports: { mqtt: number, http: number }) => void = () => undefined
  const ready = new Promise<{ mqtt: number, http: number }>((resolve) => { onReady = resolve })
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => {
      output.push(line)
      const entry = parseLogLine(line)
      if (entry?.msg === 'broker ready' && entry.ports) onReady(entry.ports)
      else if (entry === undefined || entry.level >= 40) process.stderr.write(`[broker] ${line}\n`)
    })
  }

  const stop = async (): Promise<void> => {
    if (isRunning(child)) {
      child.kill('SIGTERM')
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await exited
      clearTimeout(force)
    }
    rmSync(dataDir, { recursive: true, force: true })
    live.delete(entry)
  }

  try {
    if (child.pid === undefined) throw new Error('could not start the broker process')
    const ports = await waitReady(child, ready, () => output.join('\n'))
    return {
      pid: child.pid,
      dataDir,
      mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
      wsUrl: `ws://127.0.0.1:${ports.http}/mqtt`,
      httpUrl: `http://127.0.0.1:${ports.http}`,
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Stops every broker still running (SIGINT/SIGTERM handler). */
export async function stopAllBrokers (): Promise<void> {
  await Promise.all([...live].map(async ({ child, dataDir }) => {
    if (isRunning(child)) {
      child.kill('SIGTERM')
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => { child.kill('SIGKILL'); resolve() }, STOP_TIMEOUT_MS)
        child.once('exit', () => { clearTimeout(force); resolve() })
      })
    }
    rmSync(dataDir, { recursive: true, force: true })
  }))
  live.clear()
}

async function waitReady<T> (child: ChildProcess, ready: Promise<T>, output: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const failed = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the broker was not ready within ${START_TIMEOUT_MS / 1000} s\n${output()}`)), START_TIMEOUT_MS)
    child.once('exit', (code, signal) => reject(new Error(`the broker exited (${String(signal ?? code)}) before it was ready\n${output()}`)))
  })
  try {
    return await Promise.race([ready, failed])
  } finally {
    clearTimeout(timer)
  }
}

function parseLogLine (line: string): { level: number, msg?: string, ports?: { mqtt: number, http: number } } | undefined {
  try {
    return JSON.parse(line) as { level: number, msg?: string, ports?: { mqtt: number, http: number } }
  } catch {
    return undefined
  }
}

function isRunning (child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}
