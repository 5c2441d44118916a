/**
 * A Redis for the cluster tests.
 *
 * With `REDIS_URL` set, that server is used as it is and `stop()` does nothing. Otherwise Debian's
 * `redis-server` (`REDIS_SERVER_BIN`, default /usr/bin/redis-server, else the one on PATH) is
 * started on 127.0.0.1 with a port free at run time (Redis cannot be told `--port 0`: a port is
 * taken from the kernel by binding one and closing it, and another is tried should Redis lose it
 * to someone else meanwhile), without persistence (`--save '' --appendonly no`), in a fresh temp
 * dir. It is ready once it has logged that it is and answers PING. `stop()` kills it and removes the dir; a test process
 * that ends without `stop()` kills it on its way out.
 *
 * `password`, `users` and `tls` set up a Redis as docs/operations.md asks a cluster to run it
 * (requirepass, ACL users, TLS only); such a server is always started here, also with `REDIS_URL`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './broker.js'
import { cleanUpOnExit } from './exit-guard.js'

export interface RedisServer {
  /** `redis://127.0.0.1:{port}`; with a password `redis://:{password}@…`, with TLS `rediss://…` */
  url: string
  port: number
  /** 'external' when REDIS_URL was given, 'redis-server' when this helper started one */
  kind: 'external' | 'redis-server'
  /** redis-server's process id (for its CPU time, bench/cluster.ts); undefined for REDIS_URL */
  pid?: number
  /** what redis-server logged so far ('' for REDIS_URL) */
  log (): string
  stop (): Promise<void>
}

const START_ATTEMPTS = 5
const LOG_CHARS_KEPT = 20_000

export function redisServerBinary (): string {
  const candidates = [process.env.REDIS_SERVER_BIN, '/usr/bin/redis-server', ...(process.env.PATH ?? '').split(':').map((dir) => join(dir, 'redis-server'))]
  for (const path of candidates) {
    if (path === undefined || path === '') continue
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch { /* next */ }
  }
  throw new Error('redis-server is not installed (apt-get install redis-server), and neither REDIS_SERVER_BIN nor REDIS_URL is set')
}

/** How a client reaches a Redis started with `RedisSetup`. */
export interface RedisAccess {
  /** `AUTH` first: the default user's password, or an ACL user's */
  auth?: { user?: string, password: string }
  /** TLS (the server's certificate is not checked: this is a readiness probe) */
  tls?: boolean
}

/**
 * Whether a Redis answers PING on this port: `+PONG` (after `+OK` for an AUTH) over a plain or
 * TLS socket.
 */
export async function answersPing (port: number, timeoutMs = 500, access: RedisAccess = {}): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = access.tls === true
      ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : createConnection({ host: '127.0.0.1', port })
    const auth = access.auth === undefined ? '' : `AUTH ${access.auth.user ?? ''} ${access.auth.password}\r\n`.replace('AUTH  ', 'AUTH ')
    let answer = ''
    const done = (ok: boolean): void => { clearTimeout(timer); socket.destroy(); resolve(ok) }
    const timer = setTimeout(() => { done(false) }, timeoutMs)
    socket.once(access.tls === true ? 'secureConnect' : 'connect', () => { socket.write(`${auth}PING\r\n`) })
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString()
      const lines = answer.split('\r\n')
      const expected = auth === '' ? 1 : 2
      if (lines.length > expected) done(lines[expected - 1] === '+PONG' && (auth === '' || lines[0] === '+OK'))
    })
    socket.on('error', () => { done(false) }) // also a second one, after the first ended the probe
  })
}

/** A Redis set up as a cluster should run it (docs/operations.md#securing-redis-and-mongodb). */
export interface RedisSetup {
  /** `requirepass`: the default user's password (in the URL as `redis://:{password}@…`) */
  password?: string
  /**
   * ACL users, each as a redis.conf `user` line without the keyword (`mqttim on >pw &* +publish…`);
   * with `urlUser`, the URL logs in as that one: `redis://{urlUser.name}:{urlUser.password}@…`
   */
  users?: string[]
  urlUser?: { name: string, password: string }
  /** TLS only (no plain port): the server's key and certificate (PEM files); the URL is `rediss://` */
  tls?: { keyFile: string, certFile: string }
}

/** `port`: start on that port (a Redis stopped there coming back, for an outage test); else a free one. */
export async function startRedis (options: { port?: number } & RedisSetup = {}): Promise<RedisServer> {
  const external = process.env.REDIS_URL
  const ownServer = options.password !== undefined || options.users !== undefined || options.tls !== undefined
  if (external !== undefined && external !== '' && !ownServer) {
    return { url: external, port: Number(new URL(external).port || 6379), kind: 'external', log: () => '', stop: async () => {} }
  }
  const binary = redisServerBinary()
  if (options.port !== undefined) {
    const started = await startOnce(binary, options.port, options)
    if ('server' in started) return started.server
    throw new Error(`redis-server (${binary}) did not start on port ${options.port}:\n${started.failure}`)
  }
  const failures: string[] = []
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const started = await startOnce(binary, await freePort(), options)
    if ('server' in started) return started.server
    failures.push(started.failure)
  }
  throw new Error(`redis-server (${binary}) did not start in ${START_ATTEMPTS} attempts:\n${failures.join('\n---\n')}`)
}

async function startOnce (binary: string, port: number, setup: RedisSetup): Promise<{ server: RedisServer } | { failure: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-im-redis-'))
  const listen = setup.tls === undefined
    ? ['--port', String(port)]
    : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', setup.tls.certFile, '--tls-key-file', setup.tls.keyFile, '--tls-auth-clients', 'no']
  const secured = [
    ...(setup.password === undefined ? [] : ['--requirepass', setup.password]),
    ...(setup.users ?? []).flatMap((user) => ['--user', ...user.split(' ')])
  ]
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--logfile', '', ...secured]
  const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  const keep = (chunk: Buffer): void => { log = (log + chunk.toString()).slice(-LOG_CHARS_KEPT) }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  let spawnError: Error | undefined
  child.once('error', (err) => { spawnError = err })
  const exited = new Promise<void>((resolve) => { child.once('close', () => { resolve() }) })
  const forget = cleanUpOnExit(() => {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  let stopped: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopped ??= (async () => {
      forget()
      await kill(child, exited, spawnError !== undefined)
      rmSync(dir, { recursive: true, force: true })
    })()
    await stopped
  }

  const deadline = Date.now() + 10_000
  for (;;) {
    if (spawnError !== undefined || child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop()
      const why = spawnError?.message ?? (child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : 'did not answer PING in 10 s')
      return { failure: `port ${port}: ${why}\n${log.trim()}` }
    }
    // Its own "Ready" line first: a PING alone could be answered by another Redis that took the port.
    if (log.includes('Ready to accept connections') && await answersPing(port, 500, accessOf(setup))) break
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  const login = setup.urlUser !== undefined
    ? `${encodeURIComponent(setup.urlUser.name)}:${encodeURIComponent(setup.urlUser.password)}@`
    : setup.password !== undefined ? `:${encodeURIComponent(setup.password)}@` : ''
  const url = `${setup.tls === undefined ? 'redis' : 'rediss'}://${login}127.0.0.1:${port}`
  return { server: { url, port, kind: 'redis-server', pid: child.pid, log: () => log, stop } }
}

/** How the readiness probe logs in to a Redis set up so. */
export function accessOf (setup: RedisSetup): RedisAccess {
  const auth = setup.urlUser !== undefined
    ? { user: setup.urlUser.name, password: setup.urlUser.password }
    : setup.password !== undefined ? { password: setup.password } : undefined
  return { ...(auth ? { auth } : {}), ...(setup.tls ? { tls: true } : {}) }
}

async function kill (child: ChildProcess, exited: Promise<void>, neverStarted: boolean): Promise<void> {
  if (neverStarted) return
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
  await exited
  clearTimeout(timer)
}
