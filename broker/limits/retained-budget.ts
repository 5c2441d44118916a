/**
 * A ceiling on retained messages outside `im/` (the broker's own retained presence and channel
 * status are not counted): at most `maxMessages` topics and `maxBytes` of payload. A retained
 * PUBLISH that would pass either is still delivered to the subscribers online now, but not kept
 * (MQTT 3.1.1 has no way to refuse it otherwise without closing the publisher, whose QoS 1 resend
 * would be refused again). Clearing a retained message (empty payload) is always allowed.
 * Sizes are tracked in memory from the store's content at start. [IM-LIMIT-2]
 */
export interface RetainedBudgetOptions {
  maxMessages: number
  maxBytes: number
  /** told the new usage after every change (metrics) */
  onUsage?: (usage: { messages: number, bytes: number }) => void
}

export class RetainedBudget {
  readonly #options: RetainedBudgetOptions
  readonly #sizes = new Map<string, number>()
  #bytes = 0

  constructor (options: RetainedBudgetOptions) {
    this.#options = options
  }

  /** Counts a message found in the store at start. */
  load (topic: string, bytes: number): void {
    this.#set(topic, bytes)
  }

  /** May `topic` retain `bytes` of payload? When yes, it is counted. */
  admit (topic: string, bytes: number): boolean {
    if (bytes === 0) {
      this.#set(topic, 0)
      return true
    }
    const previous = this.#sizes.get(topic)
    const count = this.#sizes.size + (previous === undefined ? 1 : 0)
    if (count > this.#options.maxMessages || this.#bytes - (previous ?? 0) + bytes > this.#options.maxBytes) return false
    this.#set(topic, bytes)
    return true
  }

  get usage (): { messages: number, bytes: number } {
    return { messages: this.#sizes.size, bytes: this.#bytes }
  }

  #set (topic: string, bytes: number): void {
    this.#bytes -= this.#sizes.get(topic) ?? 0
    if (bytes === 0) {
      this.#sizes.delete(topic)
    } else {
      this.#sizes.set(topic, bytes)
      this.#bytes += bytes
    }
    this.#options.onUsage?.(this.usage)
  }
}
