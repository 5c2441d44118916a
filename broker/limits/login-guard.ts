/**
 * Password guessing, slowed down (rate-limiter-flexible, in memory):
 *
 * - per client address: at most `attemptsPerIpPerMinute` login attempts a minute, whatever the uid;
 * - per uid: after `maxFailures` failed attempts (counted over a day, cleared by a success) the uid
 *   is locked for `lockoutSeconds`, doubled for every further failure, up to an hour. While it is
 *   locked no password is checked at all, so a locked account cannot be guessed at any speed.
 *
 * Both answer `IM_ERR_RATE_LIMITED` (HTTP 429 with `Retry-After`). [IM-LIMIT-1]
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import { RateLimitedError } from './rate-limited.js'

export interface LoginGuardOptions {
  attemptsPerIpPerMinute: number
  maxFailures: number
  lockoutSeconds: number
  onRefuse: (limit: 'login-ip' | 'login-uid') => void
}

const MAX_LOCKOUT_SECONDS = 3600
const FAILURE_WINDOW_SECONDS = 86_400

export class LoginGuard {
  readonly #options: LoginGuardOptions
  readonly #perIp: RateLimiterMemory
  readonly #failures = new RateLimiterMemory({ points: Number.MAX_SAFE_INTEGER, duration: FAILURE_WINDOW_SECONDS })
  readonly #lockouts = new RateLimiterMemory({ points: 1, duration: 1 })

  constructor (options: LoginGuardOptions) {
    this.#options = options
    this.#perIp = new RateLimiterMemory({ points: options.attemptsPerIpPerMinute, duration: 60 })
  }

  /** Throws `RateLimitedError` when this address or this uid may not try now. */
  async admit (uid: string, ip: string): Promise<void> {
    const lock = await this.#lockouts.get(uid)
    if (lock && lock.consumedPoints > 1 && lock.msBeforeNext > 0) {
      this.#options.onRefuse('login-uid')
      throw new RateLimitedError(lock.msBeforeNext, 'Too many failed logins for this account; try again later.')
    }
    try {
      await this.#perIp.consume(ip)
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err
      this.#options.onRefuse('login-ip')
      throw new RateLimitedError(err.msBeforeNext, 'Too many login attempts from this address; try again later.')
    }
  }

  async failed (uid: string): Promise<void> {
    const { consumedPoints } = await this.#failures.penalty(uid)
    const over = consumedPoints - this.#options.maxFailures
    if (over < 0) return
    await this.#lockouts.block(uid, Math.min(MAX_LOCKOUT_SECONDS, this.#options.lockoutSeconds * 2 ** over))
  }

  async succeeded (uid: string): Promise<void> {
    await this.#failures.delete(uid)
  }
}
