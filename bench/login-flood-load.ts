/**
 * The two sides of `--suite login-flood` that are not the chat: the flood itself — wrong logins
 * from many client addresses, each address its own local 127.0.0.x address, so the broker counts
 * them apart exactly as it would distinct clients (no proxy header, no TRUST_PROXY) — and the
 * checkout of another commit to run the same measurement against (`--baseline`).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, symlinkSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join, resolve } from 'node:path'
import { PROJECT_ROOT } from './broker-process.js'
import { makeTempDir, removeTempDir } from './child.js'

/** How the flood's login attempts were answered. */
export interface FloodAnswers {
  /** sent in all */
  attempts: number
  /** 401: a password was checked (an argon2 hash) and found wrong */
  checked: number
  /** 429: refused by a rate limit (address or uid), before any hash */
  rateLimited: number
  /** 503: refused because the broker's hashing was full */
  busy: number
  /** anything else, connection errors included */
  other: number
}

/** The local addresses 127.0.0.2 … for `count` flooding clients (Linux routes all of 127/8 to lo). */
export function floodAddresses (count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.${Math.floor((i + 2) / 256)}.${(i + 2) % 256}`)
}

/**
 * Sends wrong logins from every address, `perMinute` a minute each — evenly spaced (the addresses'
 * starts spread over the first interval), or with `burst` all of a minute's at once (the
 * addresses' bursts spread over the first second) — without waiting for answers (an attacker
 * does not), until `stop()`, which waits for the answers still due (at most `drainMs`; those that
 * do not come count as `other`). Each login names a new uid, so no lockout of one uid ends the
 * flood early.
 */
export function startFlood (httpUrl: string, addresses: string[], perMinute: number, burst: boolean, drainMs = 60_000): { stop: () => Promise<FloodAnswers> } {
  const url = new URL('/api/v1/login', httpUrl)
  const answers: FloodAnswers = { attempts: 0, checked: 0, rateLimited: 0, busy: 0, other: 0 }
  const due = new Set<Promise<void>>()
  const intervalMs = burst ? 60_000 : 60_000 / perMinute
  const startSpreadMs = burst ? 1000 : intervalMs
  const timers = addresses.map((localAddress, a) => {
    const agent = new Agent({ keepAlive: true })
    let n = 0
    const sendAll = (): void => { for (let i = burst ? perMinute : 1; i > 0; i--) send() }
    const send = (): void => {
      answers.attempts++
      const answered = login(url, agent, localAddress, `flood-${a}-${n++}`).then((status) => {
        if (status === 401) answers.checked++
        else if (status === 429) answers.rateLimited++
        else if (status === 503) answers.busy++
        else answers.other++
      })
      due.add(answered)
      void answered.finally(() => due.delete(answered))
    }
    const first = setTimeout(() => {
      sendAll()
      timer.interval = setInterval(sendAll, intervalMs)
    }, (a / addresses.length) * startSpreadMs)
    const timer: { first: NodeJS.Timeout, interval?: NodeJS.Timeout, agent: Agent } = { first, agent }
    return timer
  })
  return {
    stop: async () => {
      for (const t of timers) { clearTimeout(t.first); clearInterval(t.interval) }
      let timeout: NodeJS.Timeout | undefined
      const gaveUp = new Promise<void>((resolve) => { timeout = setTimeout(resolve, drainMs) })
      await Promise.race([Promise.all([...due]), gaveUp])
      clearTimeout(timeout)
      answers.other += due.size
      for (const t of timers) t.agent.destroy()
      return { ...answers }
    }
  }
}

/** One login; resolves its status (0 for a failed connection). */
async function login (url: URL, agent: Agent, localAddress: string, uid: string): Promise<number> {
  const body = JSON.stringify({ uid, password: randomBytes(9).toString('base64url') })
  return await new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', () => resolve(0))
    })
    req.on('error', () => resolve(0))
    req.end(body)
  })
}

/** A broker to measure: where its code is, and what to call it. */
export interface Checkout { root: string, label: string, remove (): void }

/** This tree, as it is (uncommitted changes included). */
export function thisCheckout (): Checkout {
  return { root: PROJECT_ROOT, label: `this tree (${gitShort('HEAD')}${dirty() ? '+changes' : ''})`, remove: () => {} }
}

/**
 * `--baseline`: a directory holding another checkout (its `broker/main.ts` runs with its own
 * node_modules if it has them, else with this tree's), or a git revision of this repository,
 * exported with `git archive` into a temporary directory (this repository's worktrees and index
 * are left alone) and run with this tree's node_modules.
 */
export function baselineCheckout (spec: string): Checkout {
  if (existsSync(join(spec, 'broker', 'main.ts'))) {
    const root = resolve(spec)
    if (!existsSync(join(root, 'node_modules'))) symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'))
    return { root, label: `${spec}`, remove: () => {} }
  }
  const rev = gitShort(spec)
  const root = makeTempDir('mqtt-im-baseline-')
  execFileSync('sh', ['-c', 'git archive "$1" | tar -x -C "$2"', 'sh', rev, root], { cwd: PROJECT_ROOT })
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'))
  return { root, label: `baseline ${rev}`, remove: () => { removeTempDir(root) } }
}

function gitShort (rev: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', `${rev}^{commit}`], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim()
  } catch {
    throw new Error(`--baseline: "${rev}" is neither a checkout (a directory with broker/main.ts) nor a commit of this repository`)
  }
}

function dirty (): boolean {
  try {
    return execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim() !== ''
  } catch {
    return false
  }
}
