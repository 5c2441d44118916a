/**
 * A process's CPU time with nanosecond resolution, for work too short for `/proc/<pid>/stat`
 * (clock ticks of 10 ms): the first field of `/proc/<pid>/task/<tid>/schedstat` — time spent on a
 * CPU — of every thread the process has now, and of its main thread (tid = pid) apart. In the
 * broker, the main thread runs all its JavaScript; the others are libuv's pool (LevelDB reads and
 * writes), LevelDB's compaction thread and V8's helpers (parts of garbage collection). A thread
 * that exited takes its time with it; the broker's threads live as long as it does. `undefined`
 * where the kernel has no schedstat (macOS, or Linux without CONFIG_SCHED_INFO).
 */
import { readdirSync, readFileSync } from 'node:fs'

export interface ThreadCpu { all: number, main: number }

export function threadCpuNs (pid: number): ThreadCpu | undefined {
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return undefined
  }
  const cpu: ThreadCpu = { all: 0, main: 0 }
  for (const tid of tids) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0])
      if (!Number.isFinite(ns)) return undefined
      cpu.all += ns
      if (tid === String(pid)) cpu.main = ns
    } catch (err) {
      // a thread that ended between the listing and the read
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' && code !== 'ESRCH') return undefined
    }
  }
  return cpu
}
