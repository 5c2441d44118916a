/**
 * Holds for the broker's `intercept` seam (broker/server.ts): a store write or a queue read that
 * stops half-way until the test lets it go. A guarantee of the form "B waits for A" is only
 * tested when A is slow; on a quiet machine A always wins the race, broken guarantee or not.
 */
import type { MessageStore, NewMessage } from '../../broker/store/ports.js'

/** A point where the broker's work stops until `release()`. Used once. */
export class Hold {
  /** resolves when the work has got to the hold and waits there */
  readonly reached: Promise<void>
  /** resolves when the held work has gone on and finished */
  readonly passed: Promise<void>
  readonly #released: Promise<void>
  #reach: () => void = () => undefined
  #pass: () => void = () => undefined
  #release: () => void = () => undefined

  constructor () {
    this.reached = new Promise((resolve) => { this.#reach = resolve })
    this.passed = new Promise((resolve) => { this.#pass = resolve })
    this.#released = new Promise((resolve) => { this.#release = resolve })
  }

  release (): void { this.#release() }

  /** Runs `work` once the hold is released. */
  async around<T> (work: () => Promise<T>): Promise<T> {
    this.#reach()
    await this.#released
    try {
      return await work()
    } finally {
      this.#pass()
    }
  }
}

/** A stored queue that `hold` stops after its first `n` packets. */
export async function * heldAfter<T> (stored: AsyncIterable<T>, n: number, hold: Hold): AsyncGenerator<T> {
  let count = 0
  for await (const packet of stored) {
    if (count++ === n) await hold.around(async () => undefined)
    yield packet
  }
}

/**
 * For `intercept.messages`: `append` of a message `holdFor` picks reports its write only once that
 * message's hold is let go. The append itself starts at once, so the message keeps the seq of its
 * place (the store hands out seqs in the order appends start) — only the broker's news of it waits.
 */
export function holdingAppends (holdFor: (message: NewMessage) => Hold | undefined): (store: MessageStore) => MessageStore {
  return (store) => ({
    append: async (message) => {
      const hold = holdFor(message)
      const appended = store.append(message)
      if (!hold) return await appended
      appended.catch(() => undefined) // heard once the hold is let go
      return await hold.around(async () => await appended)
    },
    get: async (cid, id) => await store.get(cid, id),
    after: async (cid, after, limit) => await store.after(cid, after, limit),
    before: async (cid, before, limit) => await store.before(cid, before, limit),
    last: async (cid) => await store.last(cid),
    update: async (message) => { await store.update(message) }
  })
}
