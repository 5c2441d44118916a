/**
 * Commands other than `send` (which `PendingSends` carries) on `im/u/{uid}/out` [IM-CMD-1]:
 * - `read` is kept while offline and sent after the reconnect (only the highest seq per
 *   conversation matters: the server never moves a read position backwards) [IM-CMD-READ];
 * - `typing` is QoS 0 and best effort [IM-CMD-TYPING];
 * - `recall` and `edit` carry a cmid and wait for the event that confirms them, or the `error`
 *   event with their cmid [IM-CMD-RECALL].
 */
import type { Command, ImEvent, Message, RecallEvent, SupportCommand } from '../protocol.js'
import { topics } from '../topics.js'
import { ImClientError } from './errors.js'
import type { QoS, Transport } from './transport.js'
import type { Waiters } from './waiters.js'

export interface CommandsDeps {
  uid: string
  transport: Transport
  waiters: Waiters
  newId: () => string
  connected: () => boolean
}

export class Commands {
  readonly #deps: CommandsDeps
  /** read positions still to send: cid → seq */
  readonly #unsentReads = new Map<string, number>()

  constructor (deps: CommandsDeps) {
    this.#deps = deps
  }

  async publish (command: Command | SupportCommand, qos: QoS): Promise<void> {
    await this.#deps.transport.publish(topics.outbox(this.#deps.uid), JSON.stringify(command), qos)
  }

  async read (cid: string, seq: number): Promise<void> {
    this.#keepRead(cid, seq)
    if (this.#deps.connected()) await this.flushReads()
  }

  /** Sends the kept read positions (after a reconnect). */
  async flushReads (): Promise<void> {
    for (const [cid, seq] of [...this.#unsentReads]) {
      this.#unsentReads.delete(cid)
      try {
        await this.publish({ op: 'read', cid, seq }, 1)
      } catch {
        this.#keepRead(cid, seq)
      }
    }
  }

  async typing (cid: string, on: boolean): Promise<void> {
    if (!this.#deps.connected()) return
    await this.publish({ op: 'typing', cid, on }, 0).catch(() => undefined)
  }

  async recall (cid: string, id: string): Promise<RecallEvent> {
    return await this.#confirmed({ op: 'recall', cid, id, cmid: this.#deps.newId() },
      (e) => e.ev === 'recall' && e.cid === cid && e.id === id ? e : undefined)
  }

  async edit (cid: string, id: string, text: string): Promise<Message> {
    return await this.#confirmed({ op: 'edit', cid, id, body: { text }, cmid: this.#deps.newId() },
      (e) => e.ev === 'edit' && e.msg.cid === cid && e.msg.id === id ? e.msg : undefined)
  }

  #keepRead (cid: string, seq: number): void {
    this.#unsentReads.set(cid, Math.max(seq, this.#unsentReads.get(cid) ?? 0))
  }

  async #confirmed<T> (command: Command & { cmid: string }, match: (e: ImEvent) => T | undefined): Promise<T> {
    if (!this.#deps.connected()) throw new ImClientError('CLIENT_OFFLINE', `${command.op} needs a connection`)
    const answer = this.#deps.waiters.wait(command.cmid, match)
    // The server's `error` event can arrive before the PUBACK resolves the publish below: the
    // rejection is awaited at the end, but must not count as unhandled meanwhile.
    answer.catch(() => undefined)
    try {
      await this.publish(command, 1)
    } catch (err) {
      this.#deps.waiters.fail(command.cmid, new ImClientError('CLIENT_OFFLINE', `${command.op}: the connection was lost`, { cause: err }))
    }
    return await answer
  }
}
