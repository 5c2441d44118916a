/**
 * Persistent-session records in the embedded store:
 *
 *   sessions  {clientId} → SessionRecord
 */
import type { SessionRecord, SessionStore } from '../ports.js'
import type { RootDb } from './open.js'

export class LevelSessionStore implements SessionStore {
  readonly #db

  constructor (root: RootDb) {
    this.#db = root.sublevel<string, SessionRecord>('sessions', { valueEncoding: 'json' })
  }

  async get (clientId: string): Promise<SessionRecord | undefined> {
    return await this.#db.get(clientId)
  }

  async put (record: SessionRecord): Promise<void> {
    await this.#db.put(record.clientId, record)
  }

  async delete (clientId: string): Promise<void> {
    await this.#db.del(clientId)
  }

  async * list (): AsyncIterable<SessionRecord> {
    for await (const record of this.#db.values()) yield record
  }
}
