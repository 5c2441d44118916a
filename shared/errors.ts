/**
 * The one error catalogue. Every error the broker reports — HTTP body, MQTT `error` event,
 * refused CONNACK — carries one of these stable codes. A code is never reused for another
 * meaning; `docs/protocol.md` lists each one (a test keeps them in step). [IM-ERR-1]
 */

export interface ErrorSpec {
  /** English default text; clients localize by code. */
  readonly message: string
  /** Status when the error answers an HTTP request. */
  readonly http: number
  /** What the error means on MQTT: a CONNACK return code, or an `error` event. */
  readonly mqtt: string
}

export const ERRORS = {
  IM_ERR_BAD_REQUEST: { message: 'The request is malformed or a field is invalid.', http: 400, mqtt: 'error event' },
  IM_ERR_INVALID_JSON: { message: 'The body is not valid JSON.', http: 400, mqtt: 'error event' },
  IM_ERR_PAYLOAD_TOO_LARGE: { message: 'The body is larger than the configured limit.', http: 413, mqtt: 'error event, or the connection is closed when the MQTT packet exceeds MAX_PACKET_BYTES' },
  IM_ERR_UNSUPPORTED_MEDIA_TYPE: { message: 'Send the body as application/json.', http: 415, mqtt: 'n/a' },
  IM_ERR_UNAUTHENTICATED: { message: 'A valid access token is required.', http: 401, mqtt: 'CONNACK 5 (not authorized)' },
  IM_ERR_TOKEN_EXPIRED: { message: 'The access token has expired; log in again.', http: 401, mqtt: 'CONNACK 5 (not authorized)' },
  IM_ERR_BAD_CREDENTIALS: { message: 'Unknown uid or wrong password.', http: 401, mqtt: 'CONNACK 5 (not authorized)' },
  IM_ERR_PRINCIPAL_DISABLED: { message: 'This account is disabled.', http: 403, mqtt: 'CONNACK 5 (not authorized); live connections are closed' },
  IM_ERR_RATE_LIMITED: { message: 'Too many requests; try again later.', http: 429, mqtt: 'error event (nothing stored, connection kept), or CONNACK 3 (server unavailable) for too many CONNECTs' },
  IM_ERR_BUSY: { message: 'The server is busy; try again in a moment.', http: 503, mqtt: 'CONNACK 3 (server unavailable)' },
  IM_ERR_FORBIDDEN: { message: 'This principal may not do that.', http: 403, mqtt: 'SUBACK 0x80, or the connection is closed for a forbidden PUBLISH' },
  IM_ERR_NOT_FOUND: { message: 'No such resource.', http: 404, mqtt: 'error event' },
  IM_ERR_UNKNOWN_SITE: { message: 'No site has this site key.', http: 404, mqtt: 'n/a' },
  IM_ERR_PRINCIPAL_EXISTS: { message: 'A principal with this uid already exists.', http: 409, mqtt: 'n/a' },
  IM_ERR_IDENTIFIER_REJECTED: { message: 'A persistent session (clean=false) needs a client id.', http: 400, mqtt: 'CONNACK 2 (identifier rejected) [MQTT-3.1.3-8]' },
  IM_ERR_UNKNOWN_OP: { message: 'Unknown command `op`.', http: 400, mqtt: 'error event' },
  IM_ERR_NOT_MEMBER: { message: 'You are not a member of this conversation.', http: 403, mqtt: 'error event' },
  IM_ERR_NOT_AUTHOR: { message: 'Only the sender may change this message.', http: 403, mqtt: 'error event' },
  IM_ERR_RECALL_WINDOW: { message: 'The time to recall this message has passed.', http: 409, mqtt: 'error event' },
  IM_ERR_FORGED_SENDER: { message: 'The server sets `from`; a command may not carry it.', http: 400, mqtt: 'error event' },
  IM_ERR_ALREADY_ASSIGNED: { message: 'Another agent has this chat already.', http: 409, mqtt: 'error event' },
  IM_ERR_AGENT_FULL: { message: 'The agent has no free slot.', http: 409, mqtt: 'error event' },
  IM_ERR_CONVERSATION_CLOSED: { message: 'This conversation is closed.', http: 409, mqtt: 'error event' },
  IM_ERR_INTERNAL: { message: 'Something went wrong on the server; it has been logged.', http: 500, mqtt: 'error event' }
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

/** The wire shape of an error: HTTP body `{ error: ImErrorBody }`, MQTT `{ ev: 'error', ... }`. */
export interface ImErrorBody {
  code: ErrorCode
  message: string
  cmid?: string
}

/** An error with a catalogue code; thrown inside the broker and turned into the wire shape at the edge. */
export class ImError extends Error {
  readonly code: ErrorCode
  readonly status: number

  constructor (code: ErrorCode, message: string = ERRORS[code].message) {
    super(message)
    this.name = 'ImError'
    this.code = code
    this.status = ERRORS[code].http
  }

  toBody (): ImErrorBody {
    return { code: this.code, message: this.message }
  }
}

export function isErrorCode (value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value)
}
