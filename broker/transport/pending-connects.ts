/**
 * Connections that have not sent their CONNECT yet. Each holds a file descriptor and costs its
 * sender nothing; before this, 1,100 idle sockets from one address used up a 1,024 open-file
 * limit and made the whole broker unreachable for the CONNECT deadline. [IM-LIMIT-3]
 *
 * Two ceilings, per client address and in all, and when one is reached the OLDEST waiting
 * connection of that address (or of all) is closed to make room — never the newcomer: a real
 * client sends its CONNECT within a round trip of connecting and so is long gone from this list
 * when a flood's idle sockets reach the front; refusing newcomers instead would hand a flood from
 * many addresses the broker's door. A connection leaves the list when its first packet (the
 * CONNECT) has arrived whole, or when it closes.
 */
import type { Duplex } from 'node:stream'

export interface PendingConnectsOptions {
  perAddress: number
  total: number
  /** a waiting connection was closed to make room */
  onEvict: (address: string | undefined, reason: 'per-address' | 'total') => void
}

export class PendingConnects {
  readonly #options: PendingConnectsOptions
  /** every waiting connection, oldest first (a Map keeps insertion order) */
  readonly #all = new Map<Duplex, string | undefined>()
  readonly #byAddress = new Map<string, Set<Duplex>>()

  constructor (options: PendingConnectsOptions) {
    this.#options = options
  }

  get size (): number { return this.#all.size }

  /** `conn` from `address` waits for its CONNECT; makes room first if a ceiling is reached. */
  add (conn: Duplex, address: string | undefined): void {
    if (address !== undefined) {
      const mine = this.#byAddress.get(address)
      if (mine && mine.size >= this.#options.perAddress) this.#evict(mine.values().next().value, address, 'per-address')
    }
    if (this.#all.size >= this.#options.total) {
      const [oldest, from] = this.#all.entries().next().value ?? []
      this.#evict(oldest, from, 'total')
    }
    this.#all.set(conn, address)
    if (address === undefined) return
    const mine = this.#byAddress.get(address)
    if (mine) mine.add(conn)
    else this.#byAddress.set(address, new Set([conn]))
  }

  /** `conn` sent its CONNECT, or closed. */
  done (conn: Duplex): void {
    if (!this.#all.has(conn)) return
    const address = this.#all.get(conn)
    this.#all.delete(conn)
    if (address === undefined) return
    const mine = this.#byAddress.get(address)
    mine?.delete(conn)
    if (mine?.size === 0) this.#byAddress.delete(address)
  }

  #evict (conn: Duplex | undefined, address: string | undefined, reason: 'per-address' | 'total'): void {
    if (!conn) return
    this.done(conn)
    this.#options.onEvict(address, reason)
    conn.destroy()
  }
}
