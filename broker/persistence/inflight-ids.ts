/**
 * The packets in flight to each client on this process: message id → the stored packet it stands
 * for. Filled when a packet is sent (aedes' `outgoingUpdate`), emptied by its PUBACK, forgotten
 * when the client's next connection starts (its ids are renumbered then). [IM-PERF-1]
 */
export class InflightIds<P> {
  readonly #byClient = new Map<string, Map<number, P>>()

  remember (clientId: string, messageId: number, packet: P): void {
    let ids = this.#byClient.get(clientId)
    if (!ids) this.#byClient.set(clientId, ids = new Map())
    ids.set(messageId, packet)
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
