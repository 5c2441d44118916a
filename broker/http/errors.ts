/** Maps anything thrown inside a route to the catalogue's wire shape `{ error: { code, message } }`. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { ImError, type ErrorCode } from '../../shared/errors.js'
import { RetryLaterError } from '../limits/rate-limited.js'
import type { Logger } from '../ops/logger.js'

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'IM_ERR_INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'IM_ERR_INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'IM_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'IM_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'IM_ERR_BAD_REQUEST'
}

export function toImError (err: unknown, log: Logger): ImError {
  if (err instanceof ImError) return err
  const fe = err as Partial<FastifyError>
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined
  if (mapped) return new ImError(mapped)
  if (err instanceof SyntaxError || fe.statusCode === 400) return new ImError('IM_ERR_INVALID_JSON')
  if (fe.statusCode === 413) return new ImError('IM_ERR_PAYLOAD_TOO_LARGE')
  if (fe.statusCode === 415) return new ImError('IM_ERR_UNSUPPORTED_MEDIA_TYPE')
  log.error({ err }, 'unexpected error in HTTP route')
  return new ImError('IM_ERR_INTERNAL')
}

export function sendError (reply: FastifyReply, error: ImError): FastifyReply {
  if (error instanceof RetryLaterError) void reply.header('retry-after', String(error.retryAfterSeconds))
  return reply.code(error.status).send({ error: error.toBody() })
}

/** Validates a request body against a zod schema; the first problem becomes the error message. */
export function parseBody<S extends z.ZodType> (schema: S, request: FastifyRequest): z.output<S> {
  return parseInput(schema, request.body ?? {})
}

export function parseQuery<S extends z.ZodType> (schema: S, request: FastifyRequest): z.output<S> {
  return parseInput(schema, request.query ?? {})
}

export function parseParams<S extends z.ZodType> (schema: S, request: FastifyRequest): z.output<S> {
  return parseInput(schema, request.params ?? {})
}

function parseInput<S extends z.ZodType> (schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : ''
  throw new ImError('IM_ERR_BAD_REQUEST', `${where}${issue?.message ?? 'invalid body'}`)
}
