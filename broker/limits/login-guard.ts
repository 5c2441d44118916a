/**
 * Password guessing, slowed down. Every attempt is counted BEFORE its password is checked, in one
 * atomic step of the attempt store (shared by the nodes when STORE=mongodb), so that no number of
 * concurrent guesses, on one node or many, gets more checks than the limits allow:
 *
 * - per client address: at most `attemptsPerIpPerMinute` attempts a minute (a fixed minute),
 *   whatever the uid — login passwords and MQTT device secrets alike;
 * - per uid: `maxFailures` attempts may be under way or failed (over a day); then the uid is
 *   locked for `lockoutSeconds` after the latest, doubled for every further attempt, up to an
 *   hour — one attempt per lockout. A successful login clears the count; an attempt whose
 *   password was never checked (the hashing was full) or was right (a disabled principal) is
 *   given back. While the uid is locked no password is checked at all, the right one neither.
 *
 * Both answer `IM_ERR_RATE_LIMITED` (HTTP 429 with `Retry-After`; CONNACK 3). A refusal is
 * remembered on this node until it runs out (a few seconds at most for a uid, which a success
 * on another node may clear), so a flood is refused without a store round trip. [IM-LIMIT-1]
 */
import { LRUCache } from 'lru-cache'
import type { AttemptStore, AttemptTally } from '../store/ports.js'
import { RateLimitedError } from './rate-limited.js'

export interface LoginGuardOptions {
  attempts: AttemptStore
  attemptsPerIpPerMinute: number
  maxFailures: number
  lockoutSeconds: number
  onRefuse: (limit: 'login-ip' | 'login-uid') => void
  now?: () => number
}

/** One admitted attempt: say how it ended. */
export interface LoginTicket {
  /** the password was right: the uid's count starts again */
  succeeded (): Promise<void>
  /** the password was not checked, or was right without a login (disabled): this attempt does not count */
  giveBack (): Promise<void>
}

const MINUTE_MS = 60_000
const MAX_LOCKOUT_MS = 3_600_000
const FAILURE_WINDOW_MS = 86_400_000
/** How long a uid's lockout is remembered here without asking the store again. */
const UID_REFUSAL_MEMORY_MS = 5000
const REFUSALS_REMEMBERED = 10_000

export class LoginGuard {
  readonly #options: LoginGuardOptions
  readonly #now: () => number
  /** key → until when it is refused, and until when this node refuses it without asking the store */
  readonly #refused = new LRUCache<string, { until: number, recheckAt: number }>({ max: REFUSALS_REMEMBERED })

  constructor (options: LoginGuardOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
  }

  /**
   * Counts one attempt from `ip` (any password or secret check); throws `RateLimitedError` when
   * over. Resolves a function that forgets the attempt (a device secret that was right: a fleet
   * behind one address reconnects without spending the address's guesses).
   */
  async admitAddress (ip: string): Promise<() => Promise<void>> {
    const now = this.#now()
    const windowEnd = (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS
    const key = `ip:${ip}:${windowEnd}`
    this.#refuseIfRemembered(key, 'login-ip', now)
    const taken = await this.#options.attempts.take(key, now, windowEnd, (tally) => tally.count < this.#options.attemptsPerIpPerMinute)
    if (!taken.taken) this.#refuse(key, 'login-ip', windowEnd, windowEnd)
    return async () => { await this.#options.attempts.giveBack(key, taken.slot) }
  }

  /** Counts one login attempt of `uid` from `ip`; throws `RateLimitedError` when either is over. */
  async admit (uid: string, ip: string): Promise<LoginTicket> {
    await this.admitAddress(ip)
    const now = this.#now()
    const key = `uid:${uid}`
    this.#refuseIfRemembered(key, 'login-uid', now)
    const taken = await this.#options.attempts.take(key, now, now + FAILURE_WINDOW_MS, (tally) => this.#lockedUntil(tally) <= now)
    if (!taken.taken) {
      const until = Math.max(this.#lockedUntil(taken.tally), now + 1000)
      this.#refuse(key, 'login-uid', until, Math.min(until, now + UID_REFUSAL_MEMORY_MS))
    }
    const { attempts } = this.#options
    return {
      succeeded: async () => {
        this.#refused.delete(key)
        await attempts.clear(key)
      },
      giveBack: async () => { await attempts.giveBack(key, taken.slot) }
    }
  }

  /** Until when a uid with these attempts may not try again (0: it may now). */
  #lockedUntil ({ count, lastAt }: AttemptTally): number {
    const over = count - this.#options.maxFailures
    if (over < 0 || lastAt === undefined) return 0
    return lastAt + Math.min(MAX_LOCKOUT_MS, this.#options.lockoutSeconds * 1000 * 2 ** over)
  }

  #refuseIfRemembered (key: string, limit: 'login-ip' | 'login-uid', now: number): void {
    const remembered = this.#refused.get(key)
    if (remembered === undefined) return
    if (remembered.recheckAt <= now) {
      this.#refused.delete(key)
      return
    }
    this.#options.onRefuse(limit)
    throw refusal(limit, remembered.until - now)
  }

  #refuse (key: string, limit: 'login-ip' | 'login-uid', until: number, recheckAt: number): never {
    const now = this.#now()
    this.#refused.set(key, { until, recheckAt })
    this.#options.onRefuse(limit)
    throw refusal(limit, until - now)
  }
}

function refusal (limit: 'login-ip' | 'login-uid', msBeforeNext: number): RateLimitedError {
  return new RateLimitedError(msBeforeNext, limit === 'login-ip'
    ? 'Too many login attempts from this address; try again later.'
    : 'Too many failed logins for this account; try again later.')
}
