/** Conversations and history over HTTP. [IM-CONV-1], [IM-SYNC-1] */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { UID_PATTERN } from '../../../shared/identity.js'
import type { HistoryPage } from '../../../shared/protocol.js'
import type { ConversationPage } from '../../im/conversations.js'
import type { HttpDeps } from '../app.js'
import { requirePrincipal } from '../auth.js'
import { parseBody, parseParams, parseQuery } from '../errors.js'

const uid = z.string().regex(UID_PATTERN, 'uid must be 1–64 of [A-Za-z0-9_-]')
const createBody = z.object({
  kind: z.enum(['direct', 'group']),
  members: z.array(uid).min(1).max(500),
  title: z.string().min(1).max(200).optional()
})
const seq = z.coerce.number().int().min(0)
const historyQuery = z.object({
  after: seq.optional(),
  before: seq.min(1).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50)
}).refine((q) => q.after === undefined || q.before === undefined, 'use either `after` or `before`')
const cidParams = z.object({ cid: z.string().min(1).max(64) })
const listQuery = z.object({
  cursor: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100)
})
const memberBody = z.object({ uid })

export function conversationRoutes (app: FastifyInstance, { principals, im }: HttpDeps): void {
  app.post('/api/v1/conversations', async (request, reply) => {
    const caller = await requirePrincipal(principals, request)
    const { conv, created } = await im.conversations.create(caller, parseBody(createBody, request))
    return await reply.code(created ? 201 : 200).send(conv)
  })

  app.get('/api/v1/conversations', async (request): Promise<ConversationPage> => {
    const caller = await requirePrincipal(principals, request)
    const { cursor, limit } = parseQuery(listQuery, request)
    return await im.conversations.listFor(caller.uid, { ...(cursor ? { cursor } : {}), limit })
  })

  app.get('/api/v1/conversations/:cid', async (request) => {
    const caller = await requirePrincipal(principals, request)
    const { cid } = parseParams(cidParams, request)
    return await im.conversations.requireReader(cid, caller)
  })

  app.get('/api/v1/conversations/:cid/messages', async (request): Promise<HistoryPage> => {
    const caller = await requirePrincipal(principals, request)
    const { cid } = parseParams(cidParams, request)
    const { after, before, limit } = parseQuery(historyQuery, request)
    const conv = await im.conversations.requireReader(cid, caller)
    if (after !== undefined) {
      const messages = await im.messages.after(cid, after, limit)
      const newest = messages.at(-1)?.seq ?? after
      return { messages, more: newest < conv.lastSeq }
    }
    const below = before ?? conv.lastSeq + 1
    const messages = await im.messages.before(cid, below, limit)
    return { messages, more: (messages[0]?.seq ?? below) > 1 }
  })

  app.post('/api/v1/conversations/:cid/members', async (request, reply) => {
    const caller = await requirePrincipal(principals, request)
    const { cid } = parseParams(cidParams, request)
    const body = parseBody(memberBody, request)
    return await reply.code(201).send(await im.conversations.addMember(caller, cid, body.uid))
  })

  app.delete('/api/v1/conversations/:cid/members/:uid', async (request) => {
    const caller = await requirePrincipal(principals, request)
    const params = parseParams(z.object({ cid: z.string().min(1).max(64), uid }), request)
    return await im.conversations.removeMember(caller, params.cid, params.uid)
  })
}
