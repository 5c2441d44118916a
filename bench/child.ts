/**
 * The processes the bench starts — the brokers under test (ours, a bare aedes, Mosquitto) and the
 * load workers — and the temporary directories they use, in one registry, so that none of them
 * outlives the bench: not after an error, not after Ctrl+C, not when the bench dies another way.
 * Servers started by someone else's code (the test helpers' FerretDB and Redis, which kill their
 * process at exit themselves) register their `stop` as a cleanup, run with the children's.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const STOP_TIMEOUT_MS = 10_000
/** lines of output kept for an error message */
const OUTPUT_LINES = 200

const children = new Set<Child>()
const tempDirs = new Set<string>()
const cleanups = new Set<() => Promise<void>>()

// Last resort: a synchronous exit handler can only SIGKILL and delete.
process.once('exit', () => {
  for (const child of children) if (child.running) child.process.kill('SIGKILL')
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

export interface ChildOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** every line the child writes, on stdout or stderr */
  onLine?: (line: string) => void
  /** a Node child with an IPC channel (structured-clone serialization) */
  ipc?: boolean
}

/** One child process: its output lines, a clean stop (SIGTERM, SIGKILL after 10 s) and a crash (SIGKILL). */
export class Child {
  readonly process: ChildProcess
  /** resolves when the process has exited, whatever the reason */
  readonly exited: Promise<void>
  readonly #output: string[] = []

  constructor (command: string, args: string[], options: ChildOptions = {}) {
    this.process = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: options.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      ...(options.ipc === true ? { serialization: 'advanced' as const } : {})
    })
    children.add(this)
    this.exited = new Promise((resolve) => {
      this.process.once('exit', () => resolve())
      this.process.once('error', () => resolve()) // could not start: no 'exit' follows
    })
    for (const stream of [this.process.stdout, this.process.stderr]) {
      if (!stream) continue
      createInterface({ input: stream }).on('line', (line) => {
        this.#output.push(line)
        if (this.#output.length > OUTPUT_LINES) this.#output.shift()
        options.onLine?.(line)
      })
    }
  }

  get pid (): number {
    if (this.process.pid === undefined) throw new Error(`${String(this.process.spawnfile)} did not start`)
    return this.process.pid
  }

  get running (): boolean {
    return this.process.pid !== undefined && this.process.exitCode === null && this.process.signalCode === null
  }

  /** the last lines the process wrote */
  output (): string {
    return this.#output.join('\n')
  }

  /** Resolves with `ready`, or rejects when the process exits first or `timeoutMs` passes. */
  async until<T> (ready: Promise<T>, what: string, timeoutMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const failed = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} was not ready within ${timeoutMs / 1000} s\n${this.output()}`)), timeoutMs)
      void this.exited.then(() => reject(new Error(`${what} exited (${String(this.process.signalCode ?? this.process.exitCode)}) before it was ready\n${this.output()}`)))
    })
    try {
      return await Promise.race([ready, failed])
    } finally {
      clearTimeout(timer)
    }
  }

  /** SIGTERM, then SIGKILL if the process is still there 10 s later. */
  async stop (): Promise<void> {
    if (this.running) {
      this.process.kill('SIGTERM')
      const force = setTimeout(() => this.process.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await this.exited
      clearTimeout(force)
    }
    children.delete(this)
  }

  /** `kill -9`: no chance to flush or close anything. */
  async kill (): Promise<void> {
    if (this.running) {
      this.process.kill('SIGKILL')
      await this.exited
    }
    children.delete(this)
  }
}

/**
 * Stops every child still running (the SIGINT/SIGTERM handler), then runs the registered
 * cleanups, and deletes the temporary directories.
 */
export async function stopAllChildren (): Promise<void> {
  await Promise.all([...children].map((child) => child.stop()))
  await Promise.all([...cleanups].map(async (cleanup) => { await cleanup().catch(() => undefined) }))
  cleanups.clear()
  for (const dir of tempDirs) removeTempDir(dir)
}

/** Has `stopAllChildren` run `stop` (after the children); returns the `stop` to call otherwise, which unregisters it first. */
export function stopWithChildren (stop: () => Promise<void>): () => Promise<void> {
  cleanups.add(stop)
  return async () => {
    cleanups.delete(stop)
    await stop()
  }
}

/** A new directory under the system's temp dir, deleted at exit at the latest. */
export function makeTempDir (prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

export function removeTempDir (dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}
