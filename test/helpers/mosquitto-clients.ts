/**
 * Debian's Mosquitto command-line clients (package mosquitto-clients) as test clients:
 * `mosquittoPub` runs mosquitto_pub to its end (with `-q 1` it exits 0 only after the PUBACK);
 * `mosquittoSub` starts a mosquitto_sub that keeps running, its messages read as they come
 * (`-F`), its CONNACK and SUBACK seen in its debug output (`-d`), until the test stops it —
 * SIGTERM: it sends DISCONNECT first; SIGKILL: its connection just ends, and its will is published
 * — or, should the test never stop it, until it gives up by itself (`-W`, 150 s).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import type { Received } from './mqtt.js'

export const MOSQUITTO_PUB = process.env.MOSQUITTO_PUB_BIN ?? '/usr/bin/mosquitto_pub'
export const MOSQUITTO_SUB = process.env.MOSQUITTO_SUB_BIN ?? '/usr/bin/mosquitto_sub'
/** coreutils */
const STDBUF = '/usr/bin/stdbuf'

const run = promisify(execFile)
/** each message on one line: MSG|topic|qos|retain|payload */
const FORMAT = 'MSG|%t|%q|%r|%p'
/** A mosquitto_sub gives up by itself after this long (`-W`), should the test never stop it. */
const LIFETIME_SECONDS = 150
/** How long its CONNACK and SUBACK may take. */
const READY_MS = 10_000

/** Why the clients cannot run here, or undefined when they can. */
export function mosquittoClientsMissing (): string | undefined {
  const missing = [MOSQUITTO_PUB, MOSQUITTO_SUB, STDBUF].filter((bin) => !existsSync(bin))
  return missing.length > 0 ? `${missing.join(', ')} not found (apt-get install mosquitto-clients)` : undefined
}

/** `-h 127.0.0.1 -p {port} -V mqttv311` for the broker (or nginx) at `mqtt://127.0.0.1:{port}`. */
export function mosquittoTarget (mqttUrl: string): string[] {
  const url = new URL(mqttUrl)
  return ['-h', url.hostname, '-p', url.port, '-V', 'mqttv311']
}

/**
 * The mosquitto_sub processes still running, killed should the test process end first — also on
 * the SIGTERM with which the runner ends a file that overran its timeout (then re-raised when no
 * other listener is left to end the process).
 */
const running = new Set<ChildProcess>()
const killRunning = (): void => { for (const child of running) child.kill('SIGKILL') }
const onSigterm = (): void => {
  killRunning()
  if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM')
}
function track (child: ChildProcess): void {
  if (running.size === 0) {
    process.once('exit', killRunning)
    process.once('SIGTERM', onSigterm)
  }
  running.add(child)
  child.once('exit', () => {
    running.delete(child)
    if (running.size === 0) {
      process.off('exit', killRunning)
      process.off('SIGTERM', onSigterm)
    }
  })
}

export interface CliResult { code: number, stdout: string, stderr: string }

export async function mosquittoPub (args: string[]): Promise<CliResult> {
  return await run(MOSQUITTO_PUB, args, { timeout: 20_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number, stdout?: string, stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }))
}

export interface MosquittoSub {
  child: ChildProcess
  /** the messages it printed, in order */
  messages: Received[]
  /** resolves on its CONNACK (0), rejects if it exits first */
  connected: Promise<void>
  /** resolves once its subscriptions are granted, rejects if it exits first */
  subscribed: Promise<void>
  /** everything it wrote, for failure messages */
  output (): string
  /** signals it (SIGTERM by default) and resolves with its exit code or signal */
  stop (signal?: NodeJS.Signals): Promise<number | string | null>
}

/** mosquitto_sub with `args` (target, `-i`, `-t`, `-q`, will…), plus `-d` and the message format. */
export function mosquittoSub (args: string[]): MosquittoSub {
  // stdbuf -oL: into a pipe, its debug lines would wait in stdio's buffer until a message comes
  // (stdbuf execs it: the child's pid is mosquitto_sub's)
  const child = spawn(STDBUF, ['-oL', MOSQUITTO_SUB, ...args, '-d', '-F', FORMAT, '-W', String(LIFETIME_SECONDS)], { stdio: ['ignore', 'pipe', 'pipe'] })
  track(child)
  const messages: Received[] = []
  const lines: string[] = []
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)))
  const output = (): string => `${lines.join('\n')}\n${stderr}`
  const watchers: Array<{ pattern: RegExp, resolve: () => void }> = []
  const seen = (pattern: RegExp, what: string): Promise<void> => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`mosquitto_sub: no ${what} in ${READY_MS} ms:\n${output()}`)) }, READY_MS)
    const done = (): void => { clearTimeout(timer); resolve() }
    if (lines.some((line) => pattern.test(line))) done()
    else watchers.push({ pattern, resolve: done })
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`mosquitto_sub exited (${String(code)}) before ${what}:\n${output()}`)) })
  })
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    const fields = /^MSG\|([^|]*)\|(\d)\|(\d)\|(.*)$/.exec(line)
    if (fields !== null) messages.push({ topic: fields[1]!, qos: Number(fields[2]), retain: fields[3] === '1', payload: fields[4]! })
    for (const w of watchers) if (w.pattern.test(line)) w.resolve()
  })
  const connected = seen(/received CONNACK \(0\)/, 'its CONNACK')
  const subscribed = seen(/^Subscribed \(mid: \d+\)/, 'its SUBACK')
  connected.catch(() => undefined)
  subscribed.catch(() => undefined)
  return {
    child,
    messages,
    connected,
    subscribed,
    output,
    async stop (signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return await exited
    }
  }
}
