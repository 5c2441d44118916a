/**
 * A bound on password hashing. Each argon2 computation takes a core for tens of milliseconds (and
 * ~19 MiB); unbounded, a flood of wrong logins or device secrets from many addresses — each
 * within its own limits — keeps every core busy and every other user's messages wait behind it.
 * So at most `concurrency` computations run at once, at most `queue` more wait for a turn, and
 * anything past that is refused at once with `IM_ERR_BUSY` (HTTP 503 with `Retry-After`, CONNACK
 * 3): refusing costs nothing, and the broker's other work keeps its share of the machine.
 * [IM-LIMIT-HASH]
 */
import { BusyError } from '../limits/rate-limited.js'

export interface HashGateOptions {
  /** computations at once */
  concurrency: number
  /** computations waiting for a turn; past them a new one is refused */
  queue: number
  /** after every change: how many run, how many wait */
  onChange?: (running: number, waiting: number) => void
  onRefuse?: () => void
}

/** What a refused computation is told to wait before trying again. */
const RETRY_AFTER_MS = 1000

export class HashGate {
  readonly #options: HashGateOptions
  #running = 0
  /** computations waiting, oldest first: each is handed a finished one's turn */
  readonly #waiting: Array<() => void> = []

  constructor (options: HashGateOptions) {
    this.#options = options
  }

  /** Runs `work` in its turn; throws `BusyError` at once when every turn and place in line is taken. */
  async run<T> (work: () => Promise<T>): Promise<T> {
    if (this.#running < this.#options.concurrency) {
      this.#running++
    } else if (this.#waiting.length < this.#options.queue) {
      const turn = new Promise<void>((resolve) => this.#waiting.push(resolve))
      this.#report()
      await turn // the finished computation's turn passes to this one: `running` stays as it is
    } else {
      this.#options.onRefuse?.()
      throw new BusyError(RETRY_AFTER_MS, 'The server is busy checking passwords; try again in a moment.')
    }
    this.#report()
    try {
      return await work()
    } finally {
      const next = this.#waiting.shift()
      if (next) next()
      else this.#running--
      this.#report()
    }
  }

  #report (): void {
    this.#options.onChange?.(this.#running, this.#waiting.length)
  }
}
