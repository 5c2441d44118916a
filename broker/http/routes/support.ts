/** Customer service over HTTP: visitors open chats; agents see the queue, past chats, their status; canned replies. */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { ImError } from '../../../shared/errors.js'
import { QUEUE_HEAD, type Conversation } from '../../../shared/protocol.js'
import { visitorContext } from '../../im/commands.js'
import { CURSOR_PATTERN, decodeCursor, encodeCursor, waitingConversations } from '../../support/queue.js'
import type { HttpDeps } from '../app.js'
import { requirePrincipal } from '../auth.js'
import { parseBody, parseParams, parseQuery } from '../errors.js'

const STAFF = ['agent', 'admin'] as const
const MAX_QUEUE_PAGE = 100
const statusBody = z.object({ status: z.enum(['online', 'away', 'offline']), capacity: z.number().int().min(0).max(100).optional() })
const listQuery = z.object({ visitor: z.string().max(64).optional(), state: z.enum(['waiting', 'active', 'closed']).optional() })
const queueQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_QUEUE_PAGE).default(QUEUE_HEAD),
  after: z.string().regex(CURSOR_PATTERN, 'after must be a cursor from the page before').optional()
})
const cannedBody = z.object({ title: z.string().min(1).max(100), text: z.string().min(1).max(4000), shared: z.boolean().default(false) })

export function supportRoutes (app: FastifyInstance, { principals, support }: HttpDeps): void {
  app.post('/api/v1/support/conversations', async (request, reply) => {
    const caller = await requirePrincipal(principals, request, ['visitor'])
    const body = parseBody(z.object({ context: visitorContext.optional() }), request)
    const { conv, created } = await support.desk.open(caller, body.context)
    return await reply.code(created ? 201 : 200).send(conv)
  })

  app.get('/api/v1/support/conversations', async (request) => {
    const caller = await requirePrincipal(principals, request)
    const { visitor, state } = parseQuery(listQuery, request)
    // Visitors see their own chats; agents and admins any visitor's (past chats of the same visitor).
    const who = caller.role === 'visitor' ? caller.uid : visitor
    if (caller.role !== 'visitor' && !STAFF.includes(caller.role as typeof STAFF[number])) throw new ImError('IM_ERR_FORBIDDEN')
    const cids = who ? await support.conversations.cidsOf(who) : await support.store.openCids()
    const convs = (await Promise.all(cids.map(async (cid) => await support.conversations.get(cid))))
      .filter((c): c is Conversation => c?.kind === 'support' && (state === undefined || c.support?.state === state))
    return { conversations: convs.sort((a, b) => b.createdAt - a.createdAt) }
  })

  // The waiting chats a page at a time, in queue order (visitors who wrote first), with the
  // counts of the whole queue. [IM-SUPPORT-PAGE] [IM-SUPPORT-RANK]
  app.get('/api/v1/support/queue', async (request) => {
    await requirePrincipal(principals, request, STAFF)
    const { limit, after } = parseQuery(queueQuery, request)
    const [entries, counts] = await Promise.all([
      support.store.queue(limit + 1, after === undefined ? undefined : decodeCursor(after)),
      support.store.queueCounts()
    ])
    const page = entries.slice(0, limit)
    const more = entries.length > limit
    return { waiting: await waitingConversations(support.conversations, page), ...counts, ...(more ? { next: encodeCursor(page.at(-1)!) } : {}) }
  })

  app.get('/api/v1/agents/me', async (request) => {
    const caller = await requirePrincipal(principals, request, STAFF)
    return await support.desk.agent(caller.uid)
  })

  app.put('/api/v1/agents/me', async (request) => {
    const caller = await requirePrincipal(principals, request, STAFF)
    const { status, capacity } = parseBody(statusBody, request)
    return await support.desk.setStatus(caller, status, capacity)
  })

  app.get('/api/v1/agents', async (request) => {
    await requirePrincipal(principals, request, STAFF)
    return { agents: await support.store.listAgents() }
  })

  app.get('/api/v1/canned', async (request) => {
    const caller = await requirePrincipal(principals, request, STAFF)
    return { replies: (await support.store.listCanned()).filter((r) => r.owner === null || r.owner === caller.uid) }
  })

  app.post('/api/v1/canned', async (request, reply) => {
    const caller = await requirePrincipal(principals, request, STAFF)
    const { title, text, shared } = parseBody(cannedBody, request)
    if (shared && caller.role !== 'admin') throw new ImError('IM_ERR_FORBIDDEN', 'Only admins create shared replies.')
    const created = { id: randomUUID(), owner: shared ? null : caller.uid, title, text, createdAt: Date.now() }
    await support.store.putCanned(created)
    return await reply.code(201).send(created)
  })

  app.delete('/api/v1/canned/:id', async (request) => {
    const caller = await requirePrincipal(principals, request, STAFF)
    const { id } = parseParams(z.object({ id: z.string().min(1).max(64) }), request)
    const existing = (await support.store.listCanned()).find((r) => r.id === id)
    if (!existing) throw new ImError('IM_ERR_NOT_FOUND')
    if (existing.owner !== caller.uid && caller.role !== 'admin') throw new ImError('IM_ERR_FORBIDDEN')
    await support.store.deleteCanned(id)
    return { deleted: id }
  })
}
