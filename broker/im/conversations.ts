/**
 * Conversations: creating direct and group conversations, membership, and the per-member view
 * (last message, exact unread count). Every change is announced with a `conv` event. [IM-CONV-1]
 */
import { createHash, randomBytes } from 'node:crypto'
import { ImError } from '../../shared/errors.js'
import type { Role } from '../../shared/identity.js'
import type { Conversation, ConversationKind, ConversationSummary, Member } from '../../shared/protocol.js'
import { incarnationOf } from '../principals/incarnation.js'
import type { ConversationStore, MessageStore, PrincipalRecord, PrincipalStore } from '../store/ports.js'
import type { EventPublisher } from './events.js'

export interface Caller { uid: string, role: Role }

/** Roles that may start conversations and manage groups; visitors and devices use support (later) or nothing. */
const CHAT_ROLES: readonly Role[] = ['user', 'agent', 'admin']
/** Roles others may add to a conversation; a visitor is reached through the support desk only. */
const ADDABLE_ROLES: readonly Role[] = ['user', 'agent', 'admin', 'device']

export interface ConversationLimits {
  /** most members of a group [IM-CONV-2] */
  maxGroupMembers: number
  /** most groups one principal may have been added to without accepting them [IM-CONV-2] */
  maxPendingGroups: number
  /** counts one new conversation of `uid`; throws `IM_ERR_RATE_LIMITED` over the hourly quota */
  admitCreate?: (uid: string) => Promise<void>
}

export interface ConversationDeps {
  conversations: ConversationStore
  messages: MessageStore
  principals: PrincipalStore
  events: EventPublisher
  now: () => number
  limits: ConversationLimits
}

/** One page of `GET /api/v1/conversations`; `next` is the cursor of the following page. */
export interface ConversationPage { conversations: ConversationSummary[], next?: string }

export class ConversationService {
  readonly #deps: ConversationDeps

  constructor (deps: ConversationDeps) {
    this.#deps = deps
  }

  /** Creates a conversation; a `direct` one that exists for the pair comes back with `created:false`. */
  async create (caller: Caller, input: { kind: ConversationKind, members: string[], title?: string }): Promise<{ conv: Conversation, created: boolean }> {
    if (!CHAT_ROLES.includes(caller.role)) throw new ImError('IM_ERR_FORBIDDEN', 'This principal may not start conversations.')
    const uids = [...new Set([caller.uid, ...input.members])]
    const { maxGroupMembers } = this.#deps.limits
    if (input.kind === 'direct' && uids.length !== 2) throw new ImError('IM_ERR_BAD_REQUEST', 'A direct conversation has exactly two different members.')
    if (uids.length > maxGroupMembers) throw new ImError('IM_ERR_BAD_REQUEST', `A group has at most ${maxGroupMembers} members.`)
    const cid = input.kind === 'direct' ? await this.#directCid(uids) : `g_${randomBytes(12).toString('base64url')}`
    if (input.kind === 'direct') {
      const existing = await this.#deps.conversations.get(cid)
      if (existing) return { conv: await this.requireMember(cid, caller.uid), created: false }
    }
    // Someone else's group is joined pending, until the member reads or writes in it. [IM-CONV-2]
    const pending = input.kind === 'group' && caller.role !== 'admin'
    for (const uid of uids) if (uid !== caller.uid) await this.#requireAddable(uid, pending)
    await this.#deps.limits.admitCreate?.(caller.uid)
    const now = this.#deps.now()
    const conv: Conversation = {
      cid,
      kind: input.kind,
      ...(input.title ? { title: input.title } : {}),
      members: uids.map((uid) => ({
        uid,
        role: input.kind === 'group' && uid === caller.uid ? 'owner' : 'member',
        joinedAt: now,
        readSeq: 0,
        ...(pending && uid !== caller.uid ? { pending: true } : {})
      })),
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

  /**
   * A deleted principal leaves every conversation it was in: the other members keep it and its
   * history, and are told (`member-removed`); a principal created later under the same uid finds
   * none of them. [IM-AUTH-8]
   */
  async leaveAll (uid: string): Promise<void> {
    let after: string | undefined
    for (;;) {
      const cids = await this.#deps.conversations.cidsOf(uid, { ...(after === undefined ? {} : { after }), limit: LEAVE_PAGE })
      if (cids.length === 0) return
      for (const cid of cids) {
        const next = await this.#deps.conversations.removeMember(cid, uid)
        await this.#deps.events.toInboxes(next.members.map((m) => m.uid), { ev: 'conv', type: 'member-removed', conv: next, uid })
      }
      after = cids.at(-1)
    }
  }

  /**
   * The one direct conversation of a pair of principals — of these incarnations of them: once a
   * member was deleted (and left it), the uid created again starts a new one. [IM-AUTH-8]
   */
  async #directCid (uids: string[]): Promise<string> {
    const records = await Promise.all(uids.map(async (uid) => await this.#deps.principals.get(uid)))
    return directCid(uids.map((uid, i) => directKey(uid, records[i])))
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

  /**
   * One page of `uid`'s conversations in cid order (a stable cursor: conversations created or
   * joined meanwhile do not shift the pages), each with its last message and unread count.
   */
  async listFor (uid: string, page: { cursor?: string, limit: number }): Promise<ConversationPage> {
    const cids = await this.#deps.conversations.cidsOf(uid, { ...(page.cursor ? { after: page.cursor } : {}), limit: page.limit + 1 })
    const more = cids.length > page.limit
    const mine = cids.slice(0, page.limit)
    const summaries = await Promise.all(mine.map(async (cid) => {
      const conv = await this.#deps.conversations.get(cid)
      if (!conv) return undefined
      const member = conv.members.find((m) => m.uid === uid)
      const lastMessage = conv.lastSeq > 0 ? (await this.#deps.messages.last(cid)) ?? null : null
      return { ...conv, lastMessage, unread: Math.max(0, conv.lastSeq - (member?.readSeq ?? 0)) }
    }))
    return {
      conversations: summaries.filter((s): s is ConversationSummary => s !== undefined),
      ...(more ? { next: mine.at(-1) } : {})
    }
  }

  /** A pending member who reads or writes in a group has accepted it. [IM-CONV-2] */
  async acceptIfPending (conv: Conversation, uid: string): Promise<void> {
    if (conv.members.find((m) => m.uid === uid)?.pending !== true) return
    await this.#deps.conversations.update(conv.cid, (c) => ({ ...c, members: c.members.map((m) => m.uid === uid ? withoutPending(m) : m) }))
  }

  async addMember (caller: Caller, cid: string, uid: string): Promise<Conversation> {
    const conv = await this.#requireManager(caller, cid)
    if (conv.members.some((m) => m.uid === uid)) return conv
    const pending = caller.role !== 'admin'
    await this.#requireAddable(uid, pending)
    const { maxGroupMembers } = this.#deps.limits
    if (conv.members.length >= maxGroupMembers) throw new ImError('IM_ERR_BAD_REQUEST', `A group has at most ${maxGroupMembers} members.`)
    // A new member starts with everything before it read: its unread count begins at zero.
    const next = await this.#deps.conversations.addMember(cid, { uid, role: 'member', joinedAt: this.#deps.now(), readSeq: conv.lastSeq, ...(pending ? { pending: true } : {}) })
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

  /**
   * May `uid` be added by someone else? The same answer for a uid that does not exist, one of a
   * role nobody may add (visitors) and one with too many groups pending, so the API does not tell
   * which uids exist. [IM-CONV-2]
   */
  async #requireAddable (uid: string, pending: boolean): Promise<void> {
    const principal = await this.#deps.principals.get(uid)
    const full = async (): Promise<boolean> => pending && await this.#deps.conversations.pendingCount(uid) >= this.#deps.limits.maxPendingGroups
    if (!principal || principal.disabled === true || !ADDABLE_ROLES.includes(principal.role) || await full()) {
      throw new ImError('IM_ERR_FORBIDDEN', `${uid} cannot be added to a conversation.`)
    }
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

function withoutPending ({ pending: _pending, ...member }: Member): Member {
  return member
}

/** How many conversations a deleted principal leaves per store read. */
const LEAVE_PAGE = 100

/**
 * What identifies a member of a direct pair: the uid, with the incarnation for a principal
 * created since incarnations exist. A principal stored before keeps its bare uid, so the direct
 * conversations it had keep their ids; an unknown uid too (the create is refused further on).
 */
function directKey (uid: string, record: PrincipalRecord | undefined): string {
  return record?.incarnation === undefined ? uid : `${uid}\u0001${incarnationOf(record)}`
}

/** One direct conversation per pair: its id is derived from the two members' keys. */
function directCid (uids: string[]): string {
  const [a, b] = [...uids].sort()
  return `d_${createHash('sha256').update(`${a}\0${b}`).digest('base64url').slice(0, 22)}`
}
