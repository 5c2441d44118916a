/**
 * Validation of commands on `im/u/{uid}/out` (zod). The one place a command's shape is checked;
 * everything after works on the typed `Command`. [IM-CMD-1]
 */
import { z } from 'zod'
import { ImError } from '../../shared/errors.js'
import { exceedsJsonDepth } from '../../shared/json-depth.js'
import type { Command, SupportCommand } from '../../shared/protocol.js'

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_:.-]+$/, 'must be 1–64 of [A-Za-z0-9_:.-]')
const cid = id
const cmid = id

export interface CommandLimits { commandMaxBytes: number, messageMaxChars: number, commandMaxDepth: number }

const short = (max: number) => z.string().max(max)
/** The widget's page context; every field optional and bounded. */
export const visitorContext = z.object({
  url: short(2048).optional(),
  referrer: short(2048).optional(),
  locale: short(35).optional(),
  userAgent: short(512).optional(),
  name: short(200).optional(),
  email: short(320).optional()
}).strict()

function schemas ({ messageMaxChars }: CommandLimits) {
  const text = z.object({ text: z.string().min(1, 'text must not be empty').max(messageMaxChars, `text is limited to ${messageMaxChars} characters`) }).strict()
  const custom = z.object({ kind: z.string().min(1).max(64), data: z.unknown() }).strict()
  return {
    send: z.discriminatedUnion('type', [
      z.object({ op: z.literal('send'), cmid, cid, type: z.literal('text'), body: text }).strict(),
      z.object({ op: z.literal('send'), cmid, cid, type: z.literal('custom'), body: custom }).strict()
    ]),
    read: z.object({ op: z.literal('read'), cid, seq: z.number().int().min(0) }).strict(),
    typing: z.object({ op: z.literal('typing'), cid, on: z.boolean() }).strict(),
    recall: z.object({ op: z.literal('recall'), cid, id, cmid: cmid.optional() }).strict(),
    edit: z.object({ op: z.literal('edit'), cid, id, body: text, cmid: cmid.optional() }).strict(),
    'support.open': z.object({ op: z.literal('support.open'), cmid: cmid.optional(), context: visitorContext.optional() }).strict(),
    'support.close': z.object({ op: z.literal('support.close'), cid }).strict(),
    'support.claim': z.object({ op: z.literal('support.claim'), cid }).strict(),
    'support.transfer': z.object({ op: z.literal('support.transfer'), cid, to: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional() }).strict(),
    'support.rate': z.object({ op: z.literal('support.rate'), cid, score: z.number().int().min(1).max(5), comment: z.string().max(2000).optional() }).strict(),
    'agent.status': z.object({ op: z.literal('agent.status'), status: z.enum(['online', 'away', 'offline']), capacity: z.number().int().min(0).max(100).optional() }).strict()
  } as const
}

export type CommandParser = (payload: Buffer) => Command | SupportCommand

export function createCommandParser (limits: CommandLimits): CommandParser {
  const byOp = schemas(limits)
  return (payload) => {
    if (payload.length > limits.commandMaxBytes) throw new ImError('IM_ERR_PAYLOAD_TOO_LARGE', `A command is limited to ${limits.commandMaxBytes} bytes.`)
    const text = payload.toString('utf8')
    if (exceedsJsonDepth(text, limits.commandMaxDepth)) throw new ImError('IM_ERR_BAD_REQUEST', `A command nests at most ${limits.commandMaxDepth} levels deep.`)
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch {
      throw new ImError('IM_ERR_INVALID_JSON')
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ImError('IM_ERR_BAD_REQUEST', 'A command is a JSON object.')
    const fields = raw as Record<string, unknown>
    if ('from' in fields) throw new ImError('IM_ERR_FORGED_SENDER')
    const op = fields.op
    if (typeof op !== 'string' || !Object.hasOwn(byOp, op)) throw new ImError('IM_ERR_UNKNOWN_OP', `Unknown op ${JSON.stringify(op)}; expected one of ${Object.keys(byOp).join(', ')}.`)
    const result = byOp[op as keyof typeof byOp].safeParse(raw)
    if (!result.success) {
      const issue = result.error.issues[0]
      throw new ImError('IM_ERR_BAD_REQUEST', `${issue?.path.join('.') || op}: ${issue?.message ?? 'invalid'}`)
    }
    return result.data as Command | SupportCommand
  }
}

/** The cmid and op of a command that failed validation, when they can be read, for the error event. */
export function salvageIds (payload: Buffer): { cmid?: string, op?: string } {
  try {
    const raw = JSON.parse(payload.toString('utf8')) as { cmid?: unknown, op?: unknown }
    return {
      ...(typeof raw.cmid === 'string' && raw.cmid.length <= 64 ? { cmid: raw.cmid } : {}),
      ...(typeof raw.op === 'string' && raw.op.length <= 32 ? { op: raw.op } : {})
    }
  } catch {
    return {}
  }
}
