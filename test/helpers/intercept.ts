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

/** For `intercept.messages`: `append` of a message `holdFor` picks waits for that message's hold. */
export function holdingAppends (holdFor: (message: NewMessage) => Hold | undefined): (store: MessageStore) => MessageStore {
  return (store) => ({
    append: async (message) => {
      const hold = holdFor(message)
      return hold ? await hold.around(async () => await store.append(message)) : await store.append(message)
    },
    get: async (cid, id) => await store.get(cid, id),
    after: async (cid, after, limit) => await store.after(cid, after, limit),
    before: async (cid, before, limit) => await store.before(cid, before, limit),
    last: async (cid) => await store.last(cid),
    update: async (message) => { await store.update(message) }
  })
}
