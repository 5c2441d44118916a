/** Refusals after which the same request may succeed, with the time to wait (`Retry-After`). [IM-LIMIT-1] */
import { ImError, type ErrorCode } from '../../shared/errors.js'

export class RetryLaterError extends ImError {
  readonly retryAfterSeconds: number

  constructor (code: ErrorCode, msBeforeNext: number, message?: string) {
    super(code, message)
    this.retryAfterSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000))
  }
}

/** `IM_ERR_RATE_LIMITED`: this client (address, uid) made too many requests. */
export class RateLimitedError extends RetryLaterError {
  constructor (msBeforeNext: number, message?: string) {
    super('IM_ERR_RATE_LIMITED', msBeforeNext, message)
  }
}

/** `IM_ERR_BUSY`: the broker takes no more of this work now, whoever asks (password hashing). [IM-LIMIT-HASH] */
export class BusyError extends RetryLaterError {
  constructor (msBeforeNext: number, message?: string) {
    super('IM_ERR_BUSY', msBeforeNext, message)
  }
}
