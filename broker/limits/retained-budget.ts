/**
 * A ceiling on retained messages outside `im/` (the broker's own retained presence and channel
 * status are not counted): at most `maxMessages` topics and `maxBytes` of payload for the whole
 * broker, and a share of it per publisher — `perOwner` messages and bytes — so that no single
 * client can take the whole store and leave nothing to the others. A publisher is its principal
 * (uid) when it has one, else its address (an IPv6 one by its /56): an anonymous client that
 * reconnects under fresh client ids, or from other addresses of its own network, still draws on
 * the same share. A retained message counts against the last publisher of its
 * topic; one kept from before the start (read back from the store) counts against nobody's share
 * until someone replaces it.
 *
 * A retained PUBLISH that would pass any ceiling is still delivered to the subscribers online now,
 * but not kept (MQTT 3.1.1 has no way to refuse it otherwise without closing the publisher, whose
 * QoS 1 resend would be refused again). Clearing a retained message (empty payload) is always
 * allowed. Sizes are tracked in memory from the store's content at start. [IM-LIMIT-2]
 */
import { addressPrefix } from './address-prefix.js'

export interface RetainedBudgetOptions {
  maxMessages: number
  maxBytes: number
  /** one publisher's share: at most this many retained messages and payload bytes */
  perOwner: { messages: number, bytes: number }
  /** told the new usage after every change (metrics) */
  onUsage?: (usage: { messages: number, bytes: number }) => void
}

/** `kept`; or not kept because the whole store (`total`) or the publisher's share (`share`) is full. */
export type RetainedVerdict = 'kept' | 'total' | 'share'

interface Held { bytes: number, owner?: string }
interface Usage { messages: number, bytes: number }

export class RetainedBudget {
  readonly #options: RetainedBudgetOptions
  readonly #topics = new Map<string, Held>()
  /** usage per publisher; an entry goes when its last message does */
  readonly #owners = new Map<string, Usage>()
  #bytes = 0

  constructor (options: RetainedBudgetOptions) {
    this.#options = options
  }

  /** Counts a message found in the store at start (nobody's share: its publisher is not known). */
  load (topic: string, bytes: number): void {
    this.#set(topic, { bytes })
  }

  /** May `owner` retain `bytes` of payload on `topic`? When it may, it is counted. */
  admit (topic: string, bytes: number, owner: string): RetainedVerdict {
    if (bytes === 0) {
      this.#set(topic, { bytes: 0 })
      return 'kept'
    }
    const previous = this.#topics.get(topic)
    const count = this.#topics.size + (previous === undefined ? 1 : 0)
    if (count > this.#options.maxMessages || this.#bytes - (previous?.bytes ?? 0) + bytes > this.#options.maxBytes) return 'total'
    const mine = this.#owners.get(owner) ?? { messages: 0, bytes: 0 }
    const replacesOwn = previous?.owner === owner
    const share = this.#options.perOwner
    if (mine.messages + (replacesOwn ? 0 : 1) > share.messages || mine.bytes - (replacesOwn ? previous.bytes : 0) + bytes > share.bytes) return 'share'
    this.#set(topic, { bytes, owner })
    return 'kept'
  }

  get usage (): Usage {
    return { messages: this.#topics.size, bytes: this.#bytes }
  }

  /** What `owner` holds of the store now. */
  usageOf (owner: string): Usage {
    return { ...(this.#owners.get(owner) ?? { messages: 0, bytes: 0 }) }
  }

  #set (topic: string, next: Held): void {
    const previous = this.#topics.get(topic)
    if (previous) {
      this.#bytes -= previous.bytes
      this.#account(previous.owner, -1, -previous.bytes)
    }
    if (next.bytes === 0) {
      this.#topics.delete(topic)
    } else {
      this.#topics.set(topic, next)
      this.#bytes += next.bytes
      this.#account(next.owner, 1, next.bytes)
    }
    this.#options.onUsage?.(this.usage)
  }

  #account (owner: string | undefined, messages: number, bytes: number): void {
    if (owner === undefined) return
    const usage = this.#owners.get(owner) ?? { messages: 0, bytes: 0 }
    usage.messages += messages
    usage.bytes += bytes
    if (usage.messages === 0) this.#owners.delete(owner)
    else this.#owners.set(owner, usage)
  }
}

/**
 * The share a retained message counts against: the principal, else the client's address, else its
 * client id. An IPv6 address counts as its network (address-prefix.ts: a /56, what one customer
 * gets), or one host could draw a fresh share from every address of its own; an IPv4 one as
 * itself (devices behind one NAT share it already).
 */
export function retainedOwner (who: { uid?: string, clientId: string }, address: string | undefined): string {
  if (who.uid !== undefined) return `uid:${who.uid}`
  if (address === undefined) return `client:${who.clientId}`
  const network = addressPrefix(address)
  return `addr:${network.endsWith('/56') ? network : address}`
}
