/**
 * What this process knows in memory about each client's queue, so the hot paths need no read:
 *
 * - `InflightIds`: message id → the stored packet it was sent as. Filled when a packet is sent
 *   (aedes' `outgoingUpdate`), emptied by its PUBACK, forgotten when the client's next connection
 *   starts (its ids are renumbered then).
 * - `SentIds`: stored packet → the message id it was last sent with (0: never), learnt when it is
 *   queued or streamed, so the next send replaces the right in-flight key without reading it.
 * [IM-PERF-1]
 */
export class InflightIds<P> {
  readonly #byClient = new Map<string, Map<number, P>>()

  remember (clientId: string, messageId: number, packet: P): void {
    let ids = this.#byClient.get(clientId)
    if (!ids) this.#byClient.set(clientId, ids = new Map())
    ids.set(messageId, packet)
  }

  peek (clientId: string, messageId: number): P | undefined {
    return this.#byClient.get(clientId)?.get(messageId)
  }

  /** The packet for this id, which leaves the table; undefined when unknown. */
  take (clientId: string, messageId: number): P | undefined {
    const ids = this.#byClient.get(clientId)
    const packet = ids?.get(messageId)
    if (packet === undefined) return undefined
    ids!.delete(messageId)
    if (ids!.size === 0) this.#byClient.delete(clientId)
    return packet
  }

  forget (clientId: string): void {
    this.#byClient.delete(clientId)
  }
}

export class SentIds {
  readonly #byClient = new Map<string, Map<string, number>>()

  set (clientId: string, storedKey: string, messageId: number): void {
    let ids = this.#byClient.get(clientId)
    if (!ids) this.#byClient.set(clientId, ids = new Map())
    ids.set(storedKey, messageId)
  }

  get (clientId: string, storedKey: string): number | undefined {
    return this.#byClient.get(clientId)?.get(storedKey)
  }

  delete (clientId: string, storedKey: string): void {
    const ids = this.#byClient.get(clientId)
    if (!ids) return
    ids.delete(storedKey)
    if (ids.size === 0) this.#byClient.delete(clientId)
  }

  forget (clientId: string): void {
    this.#byClient.delete(clientId)
  }
}
