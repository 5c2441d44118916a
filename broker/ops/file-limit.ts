/**
 * The process's open-file limit. Node raises its soft limit to the hard limit at start by itself
 * (node.cc, `PlatformInit`), so what is read here is as high as the system allows this process;
 * raising it further is the operator's (`ulimit -n`, systemd `LimitNOFILE`, a container's
 * `--ulimit nofile`). Every connection holds one descriptor. Linux only; elsewhere `undefined`.
 */
import { readFileSync } from 'node:fs'

export function openFileLimit (): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0]
    if (soft === undefined) return undefined
    return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft)
  } catch {
    return undefined
  }
}

/** Below this many descriptors, the start-up log advises raising the limit. */
export const LOW_FILE_LIMIT = 4096

/**
 * How many connections may wait for their CONNECT at once when MAX_PENDING_CONNECTS is not set:
 * a quarter of the open-file limit, so that a flood of idle sockets leaves most descriptors to
 * connected clients, HTTP, the store and the logs.
 */
export function defaultPendingConnects (limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return 10_000
  return Math.max(16, Math.floor(limit / 4))
}
