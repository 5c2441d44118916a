/** Writes not waited for, by client, until they settle (successfully or not). */
export class PendingWrites {
  readonly #byClient = new Map<string, Set<Promise<void>>>()

  add (clientId: string, write: Promise<unknown>): void {
    let writes = this.#byClient.get(clientId)
    if (!writes) this.#byClient.set(clientId, writes = new Set())
    const settled = write.then(() => undefined, () => undefined)
    writes.add(settled)
    void settled.then(() => {
      writes.delete(settled)
      if (writes.size === 0 && this.#byClient.get(clientId) === writes) this.#byClient.delete(clientId)
    })
  }

  /** Resolves once every write added for `clientId` so far has settled. */
  async settled (clientId: string): Promise<void> {
    const writes = this.#byClient.get(clientId)
    if (writes) await Promise.all([...writes])
  }
}
