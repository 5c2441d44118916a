/**
 * Conversations: creating direct and group conversations, membership, and the per-member view
 * (last message, exact unread count). Every change is announced with a `conv` event. [IM-CONV-1]
 */
import { createHash, randomBytes } from 'node:crypto'
import { ImError } from '../../shared/errors.js'
import type { Role } from '../../shared/identity.js'
import type { Conversation, ConversationKind, ConversationSummary } from '../../shared/protocol.js'
import type { ConversationStore, MessageStore, PrincipalStore } from '../store/ports.js'
import type { EventPublisher } from './events.js'

export interface Caller { uid: string, role: Role }

/** Roles that may start conversations and manage groups; visitors and devices use support (later) or nothing. */
const CHAT_ROLES: readonly Role[] = ['user', 'agent', 'admin']
export const MAX_GROUP_MEMBERS = 500

export interface ConversationDeps {
  conversations: ConversationStore
  messages: MessageStore
  principals: PrincipalStore
  events: EventPublisher
  now: () => number
}

export class ConversationService {
  readonly #deps: ConversationDeps

  constructor (deps: ConversationDeps) {
    this.#deps = deps
  }

  /** Creates a conversation; a `direct` one that exists for the pair comes back with `created:false`. */
  async create (caller: Caller, input: { kind: ConversationKind, members: string[], title?: string }): Promise<{ conv: Conversation, created: boolean }> {
    if (!CHAT_ROLES.includes(caller.role)) throw new ImError('IM_ERR_FORBIDDEN', 'This principal may not start conversations.')
    const uids = [...new Set([caller.uid, ...input.members])]
    if (input.kind === 'direct' && uids.length !== 2) throw new ImError('IM_ERR_BAD_REQUEST', 'A direct conversation has exactly two different members.')
    if (uids.length > MAX_GROUP_MEMBERS) throw new ImError('IM_ERR_BAD_REQUEST', `A group has at most ${MAX_GROUP_MEMBERS} members.`)
    for (const uid of uids) {
      if (!await this.#deps.principals.get(uid)) throw new ImError('IM_ERR_NOT_FOUND', `No principal ${uid}.`)
    }
    const now = this.#deps.now()
    const cid = input.kind === 'direct' ? directCid(uids) : `g_${randomBytes(12).toString('base64url')}`
    const conv: Conversation = {
      cid,
      kind: input.kind,
      ...(input.title ? { title: input.title } : {}),
      members: uids.map((uid) => ({ uid, role: input.kind === 'group' && uid === caller.uid ? 'owner' : 'member', joinedAt: now, readSeq: 0 })),
      createdAt: now,
      createdBy: caller.uid,
      lastSeq: 0
    }
    if (!await this.#deps.conversations.create(conv)) {
      const existing = await this.requireMember(cid, caller.uid)
      return { conv: existing, created: false }
    }
    await this.#deps.events.toInboxes(uids, { ev: 'conv', type: 'created', conv })
    return { conv, created: true }
  }

  /** The conversation, if `uid` is a member. [IM-ACL-5] */
  async requireMember (cid: string, uid: string): Promise<Conversation> {
    const conv = await this.#deps.conversations.get(cid)
    if (!conv) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
    if (!conv.members.some((m) => m.uid === uid)) throw new ImError('IM_ERR_NOT_MEMBER')
    return conv
  }

  /** Members read a conversation; agents and admins also read any support chat (a visitor's past chats). */
  async requireReader (cid: string, caller: Caller): Promise<Conversation> {
    const conv = await this.#deps.conversations.get(cid)
    if (!conv) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
    if (conv.members.some((m) => m.uid === caller.uid)) return conv
    if (conv.kind === 'support' && (caller.role === 'agent' || caller.role === 'admin')) return conv
    throw new ImError('IM_ERR_NOT_MEMBER')
  }

  async listFor (uid: string): Promise<ConversationSummary[]> {
    const cids = await this.#deps.conversations.cidsOf(uid)
    const summaries = await Promise.all(cids.map(async (cid) => {
      const conv = await this.#deps.conversations.get(cid)
      if (!conv) return undefined
      const member = conv.members.find((m) => m.uid === uid)
      const lastMessage = conv.lastSeq > 0 ? (await this.#deps.messages.last(cid)) ?? null : null
      return { ...conv, lastMessage, unread: Math.max(0, conv.lastSeq - (member?.readSeq ?? 0)) }
    }))
    const activity = (s: ConversationSummary): number => s.lastMessage?.ts ?? s.createdAt
    return summaries.filter((s): s is ConversationSummary => s !== undefined).sort((a, b) => activity(b) - activity(a))
  }

  async addMember (caller: Caller, cid: string, uid: string): Promise<Conversation> {
    const conv = await this.#requireManager(caller, cid)
    if (!await this.#deps.principals.get(uid)) throw new ImError('IM_ERR_NOT_FOUND', `No principal ${uid}.`)
    if (conv.members.length >= MAX_GROUP_MEMBERS) throw new ImError('IM_ERR_BAD_REQUEST', `A group has at most ${MAX_GROUP_MEMBERS} members.`)
    if (conv.members.some((m) => m.uid === uid)) return conv
    // A new member starts with everything before it read: its unread count begins at zero.
    const next = await this.#deps.conversations.addMember(cid, { uid, role: 'member', joinedAt: this.#deps.now(), readSeq: conv.lastSeq })
    await this.#deps.events.toInboxes(next.members.map((m) => m.uid), { ev: 'conv', type: 'member-added', conv: next, uid })
    return next
  }

  async removeMember (caller: Caller, cid: string, uid: string): Promise<Conversation> {
    const conv = caller.uid === uid ? await this.requireMember(cid, uid) : await this.#requireManager(caller, cid)
    if (conv.kind !== 'group') throw new ImError('IM_ERR_BAD_REQUEST', 'Members are added to and removed from groups only.')
    if (!conv.members.some((m) => m.uid === uid)) throw new ImError('IM_ERR_NOT_FOUND', `${uid} is not a member.`)
    const next = await this.#deps.conversations.removeMember(cid, uid)
    await this.#deps.events.toInboxes([...next.members.map((m) => m.uid), uid], { ev: 'conv', type: 'member-removed', conv: next, uid })
    return next
  }

  async #requireManager (caller: Caller, cid: string): Promise<Conversation> {
    const conv = await this.#deps.conversations.get(cid)
    if (!conv) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
    if (conv.kind !== 'group') throw new ImError('IM_ERR_BAD_REQUEST', 'Members are added to and removed from groups only.')
    const isOwner = conv.members.some((m) => m.uid === caller.uid && m.role === 'owner')
    if (!isOwner && caller.role !== 'admin') throw new ImError('IM_ERR_FORBIDDEN', 'Only the group owner or an admin may change members.')
    return conv
  }
}

/** One direct conversation per pair: its id is derived from the two uids. */
function directCid (uids: string[]): string {
  const [a, b] = [...uids].sort()
  return `d_${createHash('sha256').update(`${a}\0${b}`).digest('base64url').slice(0, 22)}`
}
