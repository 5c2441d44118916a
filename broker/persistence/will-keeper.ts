/**
 * Which stored will a `delWill` may delete, for both MQTT persistences.
 *
 * aedes 1.2 deletes a client's stored will in three places:
 * - lib/handlers/connect.js `storeWill`: before it stores the will of a new connection — whatever
 *   will is stored. The argument is aedes' Client: no `brokerId`.
 * - lib/client.js `close`: as a connection that has a will closes, `{ id, brokerId: this node }`.
 * - aedes.js `_clearWills`: once it has published the will of a node taken for dead,
 *   `{ id, brokerId: that node }`.
 * A takeover closes the old connection after the new one has stored its will: on the same node
 * `registerClient` comes after `storeWill`, on another node the old one closes when
 * `$SYS/{new node}/new/clients` arrives. The old connection's delete then took the new will with
 * it, and should the new connection's node crash, its will was never published.
 *
 * So a delete that names a broker takes only the will that broker stored (each persistence
 * matches the stored `brokerId`: a takeover from another node), and none while the connection
 * of this node that stored it is still open (a takeover on this node, the same broker id). A
 * delete without a broker (a new connection's, or a session that expired) takes any. The will
 * writes of one client id run one at a time, in the order aedes asked for them.
 */
import { KeyedLock } from '../lib/keyed-lock.js'

/** What aedes hands `putWill` and `delWill`: its Client (`closed` is set first thing in `close()`), or `{ id, brokerId }`. */
export interface WillClient { id: string, brokerId?: string, closed?: unknown }

export class WillKeeper {
  /** the open connection of this node whose will is stored, by client id */
  readonly #storedBy = new Map<string, WillClient>()
  readonly #writes = new KeyedLock()

  /** `store` writes the will of `client`, which owns it from now on. */
  async put (client: WillClient, store: () => Promise<void>): Promise<void> {
    if (client.closed === false) this.#storedBy.set(client.id, client)
    else this.#storedBy.delete(client.id)
    await this.#writes.run(client.id, store)
  }

  /**
   * `remove` deletes the stored will (only one stored by `client.brokerId`, when it names one)
   * and answers it; nothing is deleted while an open connection of this node owns the will.
   */
  async del<T> (client: WillClient, remove: () => Promise<T>): Promise<T | undefined> {
    if (client.brokerId !== undefined && this.#storedBy.get(client.id)?.closed === false) return undefined
    this.#storedBy.delete(client.id)
    return await this.#writes.run(client.id, remove)
  }
}
