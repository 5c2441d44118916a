/** `IM_ERR_RATE_LIMITED` with the time after which the same request may succeed. [IM-LIMIT-1] */
import { ImError } from '../../shared/errors.js'

export class RateLimitedError extends ImError {
  readonly retryAfterSeconds: number

  constructor (msBeforeNext: number, message?: string) {
    super('IM_ERR_RATE_LIMITED', message)
    this.retryAfterSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000))
  }
}
