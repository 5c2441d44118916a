/**
 * At most `max` subscriptions per client: a SUBSCRIBE filter past it is refused with SUBACK 0x80,
 * the client's other filters stand. A filter the client holds already (a re-subscribe) always
 * passes. aedes authorizes the filters of one SUBSCRIBE concurrently and records them a moment
 * later, so the filters admitted but not yet recorded are counted too. [IM-LIMIT-2]
 */
/** An aedes client: its `subscriptions` map (filter → grant) is not in aedes' types. */
type Subscriber = object

export class SubscriptionCap {
  readonly #max: number
  readonly #admitted = new WeakMap<Subscriber, Set<string>>()

  constructor (max: number) {
    this.#max = max
  }

  admit (client: Subscriber, filter: string): boolean {
    const held = (client as { subscriptions?: Record<string, unknown> }).subscriptions ?? {}
    let admitted = this.#admitted.get(client)
    if (!admitted) this.#admitted.set(client, admitted = new Set())
    for (const f of admitted) if (Object.hasOwn(held, f)) admitted.delete(f)
    if (Object.hasOwn(held, filter) || admitted.has(filter)) return true
    if (Object.keys(held).length + admitted.size >= this.#max) return false
    admitted.add(filter)
    return true
  }

  /** The filter was refused after all (by the ACL): it takes no place. */
  release (client: Subscriber, filter: string): void {
    this.#admitted.get(client)?.delete(filter)
  }
}
