/**
 * Persistent-session records in the embedded store:
 *
 *   sessions  {clientId} → SessionRecord
 */
import type { SessionRecord, SessionStore } from '../ports.js'
import type { RootDb } from './open.js'
import { writeBatchOf, type WriteBatch } from './write-batch.js'

export class LevelSessionStore implements SessionStore {
  readonly #db
  readonly #batch: WriteBatch

  constructor (root: RootDb) {
    this.#db = root.sublevel<string, SessionRecord>('sessions', { valueEncoding: 'json' })
    // Every CONNECT and disconnect writes here: in the turn's batch, with everything else. [IM-PERF-1]
    this.#batch = writeBatchOf(root)
  }

  async get (clientId: string): Promise<SessionRecord | undefined> {
    return await this.#db.get(clientId)
  }

  async put (record: SessionRecord): Promise<void> {
    await this.#batch.write([{ type: 'put', sublevel: this.#db, key: record.clientId, value: record }])
  }

  async delete (clientId: string): Promise<void> {
    await this.#batch.write([{ type: 'del', sublevel: this.#db, key: clientId }])
  }

  async * list (): AsyncIterable<SessionRecord> {
    for await (const record of this.#db.values()) yield record
  }
}
