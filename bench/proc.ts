/**
 * What the kernel knows about the broker process, read from Linux `/proc`: CPU time, resident
 * memory; and how busy the whole machine was. Everything returns `undefined` where `/proc` is missing (macOS):
 * the benchmark still runs, it just cannot report broker resources there.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** Kernel clock ticks per second (the unit of utime/stime); 100 on nearly every Linux. */
const CLOCK_TICKS = ((): number => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100
  } catch {
    return 100
  }
})()

/** User + system CPU time the process has used so far, in CPU-seconds (all its threads). */
export function cpuSeconds (pid: number): number | undefined {
  const stat = readText(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  // What follows starts at field 3 (state); utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / CLOCK_TICKS : undefined
}

/**
 * CPU time the whole machine has spent running processes so far (every core, every process: user,
 * nice, system, and steal — time a hypervisor gave to another guest), in CPU-seconds, from the first
 * line of /proc/stat. Less what the bench and the broker used, it tells how much else ran during a
 * measurement on a shared machine. Interrupt time is left out: loopback traffic may be counted there.
 */
export function machineBusySeconds (): number | undefined {
  const line = readText('/proc/stat')?.split('\n', 1)[0]
  if (line === undefined || !line.startsWith('cpu ')) return undefined
  const [user, nice, system, , , , , steal] = line.slice(4).trim().split(/\s+/).map(Number)
  const busy = [user, nice, system, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0)
  return Number.isFinite(busy) ? busy / CLOCK_TICKS : undefined
}

/** Resident set size (VmRSS) in bytes. */
export function rssBytes (pid: number): number | undefined {
  const status = readText(`/proc/${pid}/status`)
  const kb = status === undefined ? undefined : /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
  return kb === undefined ? undefined : Number(kb) * 1024
}

/** Samples a process's RSS every `intervalMs` and keeps the peak. */
export class RssSampler {
  #peak = 0
  readonly #timer: NodeJS.Timeout

  constructor (readonly pid: number, intervalMs = 200) {
    this.#sample()
    this.#timer = setInterval(() => this.#sample(), intervalMs)
    this.#timer.unref()
  }

  /** Stops sampling; returns the peak RSS in bytes (undefined without /proc). */
  stop (): number | undefined {
    clearInterval(this.#timer)
    this.#sample()
    return this.#peak > 0 ? this.#peak : undefined
  }

  #sample (): void {
    this.#peak = Math.max(this.#peak, rssBytes(this.pid) ?? 0)
  }
}

function readText (path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}
