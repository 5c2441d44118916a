/**
 * Remembers commands that failed unexpectedly (a store error, a bug), so that one bad command
 * cannot poison a client's outbox: the first failure withholds the PUBACK (the client sends the
 * command again, which heals a passing fault); a second failure of the same command is answered
 * with an `IM_ERR_INTERNAL` error event and acknowledged, so the commands queued behind it go
 * through. A command is "the same" by its `cmid`, or by its bytes when it has none. [IM-ACK-2]
 */
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'

export class RepeatedFailures {
  readonly #seen = new LRUCache<string, true>({ max: 10_000, ttl: 3_600_000 })

  /** Records one unexpected failure; true when this command had failed before (give up on it). */
  failedBefore (uid: string, cmid: string | undefined, payload: Buffer): boolean {
    const key = keyOf(uid, cmid, payload)
    if (this.#seen.has(key)) {
      this.#seen.delete(key)
      return true
    }
    this.#seen.set(key, true)
    return false
  }

  succeeded (uid: string, cmid: string | undefined, payload: Buffer): void {
    if (this.#seen.size > 0) this.#seen.delete(keyOf(uid, cmid, payload))
  }
}

function keyOf (uid: string, cmid: string | undefined, payload: Buffer): string {
  return cmid ? `${uid}\0c\0${cmid}` : `${uid}\0h\0${createHash('sha256').update(payload).digest('base64url')}`
}
