/**
 * Reads of one sublevel asked for in the same turn go to LevelDB as one `getMany`: the sends that
 * arrive together (aedes handles a socket read's packets at once, and many connections per turn)
 * check their cmids with one native call instead of one each. [IM-PERF-2]
 */
import type { AbstractSublevel } from 'abstract-level'
import type { RootDb } from './open.js'

type Sublevel = AbstractSublevel<RootDb, string | Buffer | Uint8Array, string, string>

interface Pending { key: string, resolve: (value: string | undefined) => void, reject: (err: unknown) => void }

export class ReadBatch {
  readonly #db: Sublevel
  #pending: Pending[] = []

  constructor (db: Sublevel) {
    this.#db = db
  }

  async get (key: string): Promise<string | undefined> {
    return await new Promise((resolve, reject) => {
      if (this.#pending.push({ key, resolve, reject }) === 1) queueMicrotask(() => { void this.#flush() })
    })
  }

  async #flush (): Promise<void> {
    const pending = this.#pending
    this.#pending = []
    try {
      const values = await this.#db.getMany(pending.map((p) => p.key))
      pending.forEach((p, i) => p.resolve(values[i]))
    } catch (err) {
      for (const p of pending) p.reject(err)
    }
  }
}
