/**
 * Errors of the client library itself (the server's own errors are `ImError`s with catalogue
 * codes, from shared/errors.ts). These codes are client-side states, never sent on the wire.
 */

export type ClientErrorCode =
  /** `close()` was called, or the broker refused the credentials for good */
  | 'CLIENT_CLOSED'
  /** the command needs a connection and there is none */
  | 'CLIENT_OFFLINE'
  /** no answer to a command within its timeout */
  | 'CLIENT_TIMEOUT'
  /** the application cancelled a pending send */
  | 'CLIENT_CANCELLED'
  /** the server answered something the library cannot read */
  | 'CLIENT_BAD_RESPONSE'

export class ImClientError extends Error {
  readonly code: ClientErrorCode

  constructor (code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ImClientError'
    this.code = code
  }
}
