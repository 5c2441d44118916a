/**
 * A MongoDB-compatible server for the tests of the MongoDB backend.
 *
 * With `MONGO_URL` set, that server (a real MongoDB) is used as it is and `stop()` does nothing.
 * Otherwise a FerretDB v1.24.2 (MongoDB wire protocol on embedded SQLite) is started: the binary
 * is `FERRETDB_BIN`, else the one `.ci/ferretdb.sh` caches
 * (`${FERRETDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mqtt-im/ferretdb-v1.24.2}/ferretdb`),
 * else `.ci/ferretdb.sh` builds it (a couple of minutes, once per machine). It listens on
 * 127.0.0.1 with a port the kernel picks (FerretDB 1.24 binds `:0` and logs the real address,
 * which is read back from its log, so no two servers can race for a port), keeps its SQLite
 * files and state.json in a fresh temp dir, has telemetry off (`--telemetry=disable` and
 * DO_NOT_TRACK=1) and its debug/metrics HTTP listener off (`--debug-addr=-`). It is ready once it
 * answers a MongoDB `ping`; `stop()` kills it and removes the dir. When it fails to start, the
 * error carries the last lines of its log.
 */
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MongoClient } from 'mongodb'
import { cleanUpOnExit } from './exit-guard.js'

export const FERRETDB_VERSION = 'v1.24.2'

export interface MongoServer {
  /** `mongodb://…` connection string */
  url: string
  /** 'mongodb' when MONGO_URL was given, 'ferretdb' when this helper started one */
  kind: 'mongodb' | 'ferretdb'
  /** FerretDB's temp dir (SQLite files, state.json), removed by `stop()`; undefined for MONGO_URL */
  dir: string | undefined
  /** FerretDB's process id (for its CPU time, bench/cluster.ts); undefined for MONGO_URL */
  pid?: number
  /** what FerretDB logged so far (its last lines; '' for MONGO_URL) */
  log (): string
  stop (): Promise<void>
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const buildScript = join(repoRoot, '.ci', 'ferretdb.sh')
const LOG_LINES_KEPT = 400
const LOG_LINES_SHOWN = 40

function executable (path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Where `.ci/ferretdb.sh` keeps the binary. */
export function cachedFerretDbPath (): string {
  // like the script's ${VAR:-default}: an empty variable counts as unset
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  const dir = process.env.FERRETDB_CACHE_DIR || join(cacheHome, 'mqtt-im', `ferretdb-${FERRETDB_VERSION}`)
  return join(dir, 'ferretdb')
}

let building: Promise<string> | undefined

/** The ferretdb binary: FERRETDB_BIN, the cached build, or a build made now by `.ci/ferretdb.sh`. */
export async function ferretDbBinary (): Promise<string> {
  const fromEnv = process.env.FERRETDB_BIN
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!executable(fromEnv)) throw new Error(`FERRETDB_BIN=${fromEnv} is not an executable file`)
    return fromEnv
  }
  const cached = cachedFerretDbPath()
  if (executable(cached)) return cached
  building ??= new Promise<string>((resolve, reject) => {
    const child = execFile('bash', [buildScript], { cwd: repoRoot, maxBuffer: 1 << 20 }, (error, stdout) => {
      const path = stdout.trim().split('\n').pop() ?? ''
      if (error !== null || path === '' || !executable(path)) {
        building = undefined
        reject(new Error(`${buildScript} could not provide a ferretdb binary (${error?.message ?? `it printed ${JSON.stringify(stdout)}`}); set FERRETDB_BIN or MONGO_URL, or install Go`))
      } else {
        resolve(path)
      }
    })
    // the build's progress and errors, as they come
    child.stderr?.pipe(process.stderr)
  })
  return await building
}

/** A database name that no other call returns (FerretDB allows [a-zA-Z0-9_-]{1,63}). */
let dbNameCounter = 0
export function uniqueDbName (prefix: string): string {
  const suffix = `_${process.pid.toString(36)}_${(++dbNameCounter).toString(36)}_${randomBytes(4).toString('hex')}`
  const head = (prefix.replace(/[^a-zA-Z0-9_]/g, '_') || 'db').slice(0, 63 - suffix.length)
  return head + suffix
}

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function pings (url: string): Promise<boolean> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 })
  try {
    await client.connect()
    const answer = await client.db('admin').command({ ping: 1 })
    return answer.ok === 1
  } catch {
    return false
  } finally {
    await client.close().catch(() => {})
  }
}

export async function startFerretDb (options: { startTimeoutMs?: number } = {}): Promise<MongoServer> {
  const external = process.env.MONGO_URL
  if (external !== undefined && external !== '') {
    return { url: external, kind: 'mongodb', dir: undefined, log: () => '', stop: async () => {} }
  }

  const binary = await ferretDbBinary()
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-im-ferretdb-'))
  const dataDir = join(dir, 'data')
  mkdirSync(dataDir)
  const args = [
    '--handler=sqlite',
    `--sqlite-url=file:${dataDir}/`,
    `--state-dir=${dir}`,
    '--listen-addr=127.0.0.1:0',
    '--debug-addr=-',
    '--telemetry=disable',
    '--log-format=json',
    '--log-level=info'
  ]
  const child = spawn(binary, args, {
    cwd: dir,
    env: { ...process.env, DO_NOT_TRACK: '1', FERRETDB_TELEMETRY: 'disable' },
    stdio: ['ignore', 'pipe', 'pipe']
  })

  const lines: string[] = []
  let partial = ''
  let port: number | undefined
  const onData = (chunk: Buffer): void => {
    const parts = (partial + chunk.toString()).split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) {
      lines.push(line)
      if (lines.length > LOG_LINES_KEPT) lines.shift()
      // {"level":"INFO",…,"msg":"Listening on TCP 127.0.0.1:41234...","name":"listener"}
      const listening = port === undefined ? /Listening on TCP 127\.0\.0\.1:(\d+)\.\.\./.exec(line) : null
      if (listening !== null) port = Number(listening[1])
    }
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const log = (): string => [...lines, ...(partial === '' ? [] : [partial])].join('\n')
  const tail = (): string => log().split('\n').slice(-LOG_LINES_SHOWN).join('\n')

  let spawnError: Error | undefined
  child.once('error', (error) => { spawnError = error })
  const exited = new Promise<void>((resolve) => { child.once('close', () => { resolve() }) })
  const forget = cleanUpOnExit(() => {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  let stopped: Promise<void> | undefined
  // A FerretDB that dies under a test (a panic) fails it with "connection refused": say why here.
  void exited.then(() => {
    if (stopped === undefined) process.stderr.write(`\n!!! FerretDB on port ${port ?? '?'} exited by itself (${child.exitCode ?? child.signalCode ?? '?'}); its last lines:\n${tail()}\n\n`)
  })
  const stop = async (): Promise<void> => {
    stopped ??= (async () => {
      forget()
      if (child.exitCode === null && child.signalCode === null && spawnError === undefined) child.kill('SIGTERM')
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
      // a child that never started may never emit 'close'
      let gaveUp: NodeJS.Timeout | undefined
      const giveUp = new Promise<void>((resolve) => { gaveUp = setTimeout(resolve, spawnError === undefined ? 10_000 : 0) })
      await Promise.race([exited, giveUp])
      clearTimeout(gaveUp) // else it keeps the test process alive for 10 s
      clearTimeout(timer)
      rmSync(dir, { recursive: true, force: true })
    })()
    await stopped
  }

  const fail = async (why: string): Promise<never> => {
    await stop()
    throw new Error(`FerretDB (${binary} ${args.join(' ')}) ${why}\n--- last lines of its log ---\n${tail()}`)
  }

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000)
  for (;;) {
    if (spawnError !== undefined) return await fail(`could not be started: ${spawnError.message}`)
    if (child.exitCode !== null || child.signalCode !== null) return await fail(`exited (${child.exitCode ?? child.signalCode}) before it answered a ping`)
    if (Date.now() > deadline) return await fail(port === undefined ? 'did not log its listening address in time' : `did not answer a ping on port ${port} in time`)
    if (port !== undefined && await pings(`mongodb://127.0.0.1:${port}/`)) break
    await sleep(port === undefined ? 25 : 100)
  }
  return { url: `mongodb://127.0.0.1:${port}/`, kind: 'ferretdb', dir, pid: child.pid, log, stop }
}
