/**
 * Conversations: creating direct and group conversations, membership, and the per-member view
 * (last message, exact unread count). Every change is announced with a `conv` event. [IM-CONV-1]
 * Adding someone else is an invitation (invitations.ts) [IM-CONV-2]; what leaves here goes
 * through `publicView`.
 */
import { createHash, randomBytes } from 'node:crypto'
import { ImError } from '../../shared/errors.js'
import type { Role } from '../../shared/identity.js'
import type { Conversation, ConversationKind, ConversationSummary, Member } from '../../shared/protocol.js'
import { incarnationOf } from '../principals/incarnation.js'
import type { ConversationStore, MessageStore, PrincipalRecord, PrincipalStore } from '../store/ports.js'
import type { EventPublisher } from './events.js'
import { Invitations, isAddable, isMember, publicView, type Delivery } from './invitations.js'
import { memberUids } from './messages.js'

export interface Caller { uid: string, role: Role }

/** Roles that may start conversations and manage groups; visitors and devices use support (later) or nothing. */
const CHAT_ROLES: readonly Role[] = ['user', 'agent', 'admin']

export interface ConversationLimits {
  /** most members of a group [IM-CONV-2] */
  maxGroupMembers: number
  /** most invitations one principal keeps unaccepted; a new one displaces the oldest [IM-CONV-2] */
  maxPendingGroups: number
  /** most unaccepted invitations of one principal from one inviter; more are held [IM-CONV-2] */
  maxPendingPerInviter: number
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
  /** an event to an invitee that could not be published */
  onLostEvent?: (err: unknown) => void
}

/** One page of `GET /api/v1/conversations`; `next` is the cursor of the following page. */
export interface ConversationPage { conversations: ConversationSummary[], next?: string }

export class ConversationService {
  readonly #deps: ConversationDeps
  readonly #invitations: Invitations

  constructor (deps: ConversationDeps) {
    this.#deps = deps
    this.#invitations = new Invitations({
      conversations: deps.conversations, events: deps.events,
      limits: { maxPending: deps.limits.maxPendingGroups, perInviter: deps.limits.maxPendingPerInviter },
      ...(deps.onLostEvent ? { onLost: deps.onLostEvent } : {})
    })
  }

  /** Creates a conversation; a `direct` one that exists for the pair comes back with `created:false`. */
  async create (caller: Caller, input: { kind: ConversationKind, members: string[], title?: string }): Promise<{ conv: Conversation, created: boolean }> {
    if (!CHAT_ROLES.includes(caller.role)) throw new ImError('IM_ERR_FORBIDDEN', 'This principal may not start conversations.')
    const uids = [...new Set([caller.uid, ...input.members])]
    const { maxGroupMembers } = this.#deps.limits
    if (input.kind === 'direct' && uids.length !== 2) throw new ImError('IM_ERR_BAD_REQUEST', 'A direct conversation has exactly two different members.')
    if (uids.length > maxGroupMembers) throw new ImError('IM_ERR_BAD_REQUEST', `A group has at most ${maxGroupMembers} members.`)
    // uncached: an invitee's record is read from the store whether the uid exists or not
    const records = new Map(await Promise.all(uids.map(async (uid) => [uid, await this.#deps.principals.get(uid)] as const)))
    const cid = input.kind === 'direct' ? directCid(uids.map((uid) => directKey(uid, records.get(uid)))) : `g_${randomBytes(12).toString('base64url')}`
    if (input.kind === 'direct') {
      const existing = await this.#deps.conversations.get(cid)
      if (existing) return { conv: publicView(await this.#joinDirect(existing, caller.uid)), created: false }
    }
    const others = uids.filter((uid) => uid !== caller.uid)
    // Adding others invites them, unless an admin adds them. [IM-CONV-2]
    const invite = caller.role !== 'admin'
    if (!invite) for (const uid of others) requireAddable(uid, records.get(uid))
    const deliveries = new Map<string, Delivery>(invite
      ? await Promise.all(others.map(async (uid) => [uid, await this.#invitations.decide(uid, records.get(uid), caller.uid)] as const))
      : [])
    await this.#deps.limits.admitCreate?.(caller.uid)
    const now = this.#deps.now()
    const conv: Conversation = {
      cid,
      kind: input.kind,
      ...(input.title ? { title: input.title } : {}),
      members: uids.map((uid): Member => {
        const delivery = deliveries.get(uid)
        if (delivery) return this.#invitations.member(uid, caller.uid, delivery, now, 0)
        return { uid, role: input.kind === 'group' && uid === caller.uid ? 'owner' : 'member', joinedAt: now, readSeq: 0 }
      }),
      createdAt: now,
      createdBy: caller.uid,
      lastSeq: 0
    }
    if (!await this.#deps.conversations.create(conv)) {
      const existing = await this.requireMember(cid, caller.uid)
      return { conv: publicView(existing), created: false }
    }
    await this.#invitations.settle(deliveries)
    const delivered = others.filter((uid) => deliveries.get(uid)?.kind !== 'hold')
    const told = invite ? [caller.uid] : uids
    await this.#deps.events.toInboxes(told, { ev: 'conv', type: 'created', conv: publicView(conv) })
    if (invite) this.#invitations.tellInvitees(delivered, { type: 'created', conv })
    return { conv: publicView(conv), created: true }
  }

  /**
   * A direct conversation asked for again. By its held invitee: it joins (it asked for it); by a
   * pending one: it accepts. Anyone else gets it as it is — an invitation that was held stays
   * held (trying again would take a write only for a uid that exists).
   */
  async #joinDirect (conv: Conversation, uid: string): Promise<Conversation> {
    const me = conv.members.find((m) => m.uid === uid)
    if (!me) throw new ImError('IM_ERR_NOT_MEMBER')
    if (me.held !== true && me.pending !== true) return conv
    const next = await this.#deps.conversations.update(conv.cid, (c) => ({ ...c, members: c.members.map((m) => (m.uid === uid ? accepted(m) : m)) }))
    if (me.held === true) await this.#deps.events.toInboxes(memberUids(next), { ev: 'conv', type: 'member-added', conv: publicView(next), uid })
    return next
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
        await this.#deps.events.toInboxes(memberUids(next), { ev: 'conv', type: 'member-removed', conv: publicView(next), uid })
      }
      after = cids.at(-1)
    }
  }

  /**
   * The one direct conversation of a pair of principals — of these incarnations of them: once a
   * member was deleted (and left it), the uid created again starts a new one. [IM-AUTH-8]
   */
  /** The conversation as stored (held invitees included), if `uid` is a member. [IM-ACL-5] */
  async requireMember (cid: string, uid: string): Promise<Conversation> {
    const conv = await this.#deps.conversations.get(cid)
    if (!conv) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
    if (!isMember(conv, uid)) throw new ImError('IM_ERR_NOT_MEMBER')
    return conv
  }

  /** Members read a conversation; agents and admins also read any support chat (a visitor's past chats). */
  async requireReader (cid: string, caller: Caller): Promise<Conversation> {
    const conv = await this.#deps.conversations.get(cid)
    if (!conv) throw new ImError('IM_ERR_NOT_FOUND', 'No such conversation.')
    if (isMember(conv, caller.uid)) return publicView(conv)
    if (conv.kind === 'support' && (caller.role === 'agent' || caller.role === 'admin')) return publicView(conv)
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
      return { ...publicView(conv), lastMessage, unread: Math.max(0, conv.lastSeq - (member?.readSeq ?? 0)) }
    }))
    return {
      conversations: summaries.filter((s): s is ConversationSummary => s !== undefined),
      ...(more ? { next: mine.at(-1) } : {})
    }
  }

  /** A pending member who reads or writes in a conversation has accepted it. [IM-CONV-2] */
  async acceptIfPending (conv: Conversation, uid: string): Promise<void> {
    const me = conv.members.find((m) => m.uid === uid)
    if (me?.pending !== true || me.held === true) return
    await this.#deps.conversations.update(conv.cid, (c) => ({ ...c, members: c.members.map((m) => m.uid === uid ? accepted(m) : m) }))
  }

  /** The answer is the same whoever `uid` is (a held invitation looks like any other). [IM-CONV-2] */
  async addMember (caller: Caller, cid: string, uid: string): Promise<Conversation> {
    const conv = await this.#requireManager(caller, cid)
    if (conv.members.some((m) => m.uid === uid)) return publicView(conv)
    const invite = caller.role !== 'admin'
    const record = await this.#deps.principals.get(uid)
    if (!invite) requireAddable(uid, record)
    const { maxGroupMembers } = this.#deps.limits
    if (conv.members.length >= maxGroupMembers) throw new ImError('IM_ERR_BAD_REQUEST', `A group has at most ${maxGroupMembers} members.`)
    const delivery = invite ? await this.#invitations.decide(uid, record, caller.uid) : undefined
    // A new member starts with everything before it read: its unread count begins at zero.
    const joinedAt = this.#deps.now()
    const member: Member = delivery ? this.#invitations.member(uid, caller.uid, delivery, joinedAt, conv.lastSeq) : { uid, role: 'member', joinedAt, readSeq: conv.lastSeq }
    const next = await this.#deps.conversations.addMember(cid, member)
    if (delivery) await this.#invitations.settle(new Map([[uid, delivery]]))
    const event = { type: 'member-added', conv: next, uid } as const
    await this.#deps.events.toInboxes(memberUids(next).filter((m) => !invite || m !== uid), { ev: 'conv', ...event, conv: publicView(next) })
    if (delivery?.kind === 'deliver') this.#invitations.tellInvitees([uid], event)
    return publicView(next)
  }

  async removeMember (caller: Caller, cid: string, uid: string): Promise<Conversation> {
    const conv = caller.uid === uid ? await this.requireMember(cid, uid) : await this.#requireManager(caller, cid)
    if (conv.kind !== 'group') throw new ImError('IM_ERR_BAD_REQUEST', 'Members are added to and removed from groups only.')
    if (!conv.members.some((m) => m.uid === uid)) throw new ImError('IM_ERR_NOT_FOUND', `${uid} is not a member.`)
    const next = await this.#deps.conversations.removeMember(cid, uid)
    // a held invitee never knew of it
    const told = isMember(conv, uid) ? [...memberUids(next), uid] : memberUids(next)
    await this.#deps.events.toInboxes(told, { ev: 'conv', type: 'member-removed', conv: publicView(next), uid })
    return publicView(next)
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

/** A member who accepted: no longer pending, nor held (who it was invited by stays). */
function accepted ({ pending: _pending, held: _held, ...member }: Member): Member {
  return member
}

/** An admin adds only principals that can be added, and is told which cannot (admins see every principal anyway). */
function requireAddable (uid: string, record: PrincipalRecord | undefined): void {
  if (!isAddable(record)) throw new ImError('IM_ERR_FORBIDDEN', `${uid} cannot be added to a conversation.`)
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
