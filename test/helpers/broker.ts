/**
 * Test brokers: in-process (`startTestBroker`) for most tests, or a child process
 * (`spawnBroker`) when the test must `kill -9` it. Both listen on 127.0.0.1 with ports chosen
 * at run time, on a fresh DATA_DIR, and are stopped and removed by the test.
 *
 * With `TEST_MONGO_URL` set (test/backends/), every broker keeps its state in MongoDB instead:
 * one database per DATA_DIR, so a broker restarted on the same DATA_DIR finds its state again.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { createInterface } from 'node:readline'
import { loadConfig } from '../../broker/config/load.js'
import type { ConfigInput } from '../../broker/config/schema.js'
import { startServer, type ImServer, type Intercept, type Ports } from '../../broker/server.js'
import { cleanUpOnExit } from './exit-guard.js'

export const ADMIN_PASSWORD = 'admin-pass-1'
export const JWT_SECRET = 'test-secret-test-secret-test-secret-0123'

export interface TestBroker {
  server: ImServer
  dataDir: string
  mqttUrl: string
  wsUrl: string
  httpUrl: string
  /** the metrics listener's `/metrics` (its own port, on 127.0.0.1) */
  metricsUrl: string
  stop (): Promise<void>
}

export function tempDataDir (): string {
  return mkdtempSync(join(tmpdir(), 'mqtt-im-test-'))
}

/** The store settings of a broker on `dataDir`: the embedded default, or MongoDB under test/backends/. */
export function storeSettings (dataDir: string): Record<string, string> {
  const url = process.env.TEST_MONGO_URL
  return url ? { STORE: 'mongodb', MONGO_URL: url, MONGO_DB: `t_${basename(dataDir).replace(/[^A-Za-z0-9_]/g, '_')}` } : {}
}

/** `intercept` holds or fails parts of the broker a test cannot slow down for real (test/helpers/intercept.ts). */
export async function startTestBroker (overrides: Partial<ConfigInput> = {}, dataDir = tempDataDir(), intercept?: Intercept): Promise<TestBroker> {
  const config = loadConfig({
    overrides: {
      HOST: '127.0.0.1', MQTT_PORT: 0, HTTP_PORT: 0, MQTTS_PORT: 0, HTTPS_PORT: 0, METRICS_PORT: 0,
      DATA_DIR: dataDir, ADMIN_PASSWORD, JWT_SECRET, LOG_LEVEL: (process.env.TEST_LOG_LEVEL ?? 'silent') as ConfigInput['LOG_LEVEL'],
      ...storeSettings(dataDir),
      ...overrides
    }
  })
  const server = await startServer({ config, intercept })
  return {
    server,
    dataDir,
    mqttUrl: `mqtt://127.0.0.1:${server.ports.mqtt}`,
    wsUrl: `ws://127.0.0.1:${server.ports.http}/mqtt`,
    httpUrl: `http://127.0.0.1:${server.ports.http}`,
    metricsUrl: `http://127.0.0.1:${server.ports.metrics}/metrics`,
    async stop () {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

export interface SpawnedBroker {
  child: ChildProcess
  ports: Ports
  mqttUrl: string
  httpUrl: string
  /** resolves with the exit code or signal once the process is gone */
  exited: Promise<number | string | null>
  /** its last log lines (stdout, JSON) and what it wrote to stderr */
  log (): string
  kill (signal?: NodeJS.Signals): Promise<number | string | null>
}

const LOG_LINES_KEPT = 400

/**
 * Runs `broker/main.ts` in its own process (through tsx) and waits for its "broker ready" log line.
 * `onSpawn` learns of the process at once, for a caller that must stop it even before it is ready.
 */
export async function spawnBroker (env: Record<string, string>, onSpawn?: (child: ChildProcess) => void, { fileLimit }: { fileLimit?: number } = {}): Promise<SpawnedBroker> {
  const node = [process.execPath, '--import', 'tsx', 'broker/main.ts']
  // `fileLimit`: the process's open-file limit, soft and hard (`ulimit -n`), as a small server has it
  const [command, args] = fileLimit === undefined ? [node[0] as string, node.slice(1)] : ['/bin/sh', ['-c', `ulimit -n ${fileLimit} && exec "$@"`, 'sh', ...node]]
  const child = spawn(command, args, {
    env: {
      ...process.env,
      HOST: '127.0.0.1', MQTT_PORT: '0', HTTP_PORT: '0', METRICS_PORT: '0', ADMIN_PASSWORD, JWT_SECRET, LOG_LEVEL: 'info',
      ...(env.DATA_DIR ? storeSettings(env.DATA_DIR) : {}),
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  onSpawn?.(child)
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)))
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const logLines: string[] = []
  const ports = await new Promise<Ports>((resolve, reject) => {
    // given up on: not left running (nothing would stop it, and it would keep the test process alive)
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`broker did not start in 20 s\n${stderr}`)) }, 20_000)
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      logLines.push(line)
      if (logLines.length > LOG_LINES_KEPT) logLines.shift()
      try {
        const entry = JSON.parse(line) as { msg?: string, ports?: Ports }
        if (entry.msg === 'broker ready' && entry.ports) { clearTimeout(timer); resolve(entry.ports) }
      } catch { /* not a log line */ }
    })
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`broker exited (${String(code)}) before it was ready\n${stderr}`)) })
  })
  return {
    child,
    ports,
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    httpUrl: `http://127.0.0.1:${ports.http}`,
    exited,
    log: () => [...logLines, stderr].join('\n'),
    async kill (signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return await exited
    }
  }
}

const RESTART_ATTEMPTS = 5
/** main.ts gives up on a graceful shutdown after 10 s and exits 1: it never takes longer than this */
const STOP_TIMEOUT_MS = 15_000

/** A child-process broker on a DATA_DIR that outlives it; never left behind, even if the runner ends the file. */
export class RestartableBroker {
  readonly dataDir = tempDataDir()
  current: SpawnedBroker | undefined
  readonly #env: Record<string, string>
  /** the latest process, also while it starts (`current` is set once it is ready) */
  #child: ChildProcess | undefined
  readonly #forget = cleanUpOnExit(() => {
    this.#child?.kill('SIGKILL')
    rmSync(this.dataDir, { recursive: true, force: true })
  })

  constructor (env: Record<string, string> = {}) {
    this.#env = env
  }

  get broker (): SpawnedBroker {
    assert.ok(this.current, 'the broker is running')
    return this.current
  }

  async start (): Promise<SpawnedBroker> {
    this.current = await spawnBroker({ DATA_DIR: this.dataDir, ...this.#env }, (child) => { this.#child = child })
    return this.current
  }

  /**
   * A graceful restart: SIGTERM (the broker's own shutdown: listeners closed, commands under way
   * finished, clients closed, store flushed), wait for the process to exit, then start it again
   * with the same settings on the same ports, as a load balancer in front still knows them.
   * Resolves, once the new one is ready, with how the old process ended (0: a clean shutdown), how
   * long it took to, and its last log lines.
   */
  async restart (): Promise<{ exit: number | string | null, stoppedInMs: number, log: string }> {
    const old = this.broker
    const { ports } = old
    const stopping = Date.now()
    let timer: NodeJS.Timeout | undefined
    const overdue = new Promise<'overdue'>((resolve) => { timer = setTimeout(() => resolve('overdue'), STOP_TIMEOUT_MS) })
    const exit = await Promise.race([old.kill('SIGTERM'), overdue])
    clearTimeout(timer)
    const stoppedInMs = Date.now() - stopping
    this.current = undefined
    if (exit === 'overdue') {
      await old.kill('SIGKILL')
      throw new Error(`the broker did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM; killed. Its last log lines:\n${old.log()}`)
    }
    const samePorts = { MQTT_PORT: String(ports.mqtt), HTTP_PORT: String(ports.http) }
    for (let attempt = 1; ; attempt++) {
      try {
        this.current = await spawnBroker({ DATA_DIR: this.dataDir, ...this.#env, ...samePorts }, (child) => { this.#child = child })
        return { exit, stoppedInMs, log: old.log() }
      } catch (err) {
        // a port freed by the old process can be taken meanwhile as the local port of some
        // outgoing connection; it is free again once that connection ends
        if (attempt === RESTART_ATTEMPTS || !/EADDRINUSE/.test(String(err))) throw err
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
    }
  }

  /** SIGKILL at once, from inside a callback: no shutdown code of the broker runs. */
  killNow (): void {
    this.broker.child.kill('SIGKILL')
  }

  async kill (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.current?.kill(signal)
    this.current = undefined
  }

  async dispose (): Promise<void> {
    await this.current?.kill('SIGKILL')
    rmSync(this.dataDir, { recursive: true, force: true })
    this.#forget()
  }
}

/** An in-process broker with an admin token and the default site; closes every participant it made. */

/** A TCP port free right now on 127.0.0.1. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}
