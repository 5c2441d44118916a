/**
 * Invitations [IM-CONV-2]. Whoever adds someone else to a conversation — a group, or a direct
 * conversation they start — invites them, unless an admin: the invitee is a `pending` member
 * until it reads or writes in it.
 *
 * The inviter is told the same whoever the invitee is, so the API reveals no uid's existence:
 * an invitation that cannot reach its invitee — a uid that does not exist, a visitor (reached
 * through the support desk only), a disabled principal, an invitee that has `perInviter`
 * unaccepted invitations from this inviter already — is *held*: listed pending like any other,
 * stored the same way, but the invitee is no member (not indexed under its uid, never told, never
 * let in). Deciding reads the same for every uid (its principal record and its invitations), so
 * the answer also takes the same store round trips; the invitee is told without the inviter
 * waiting for it (an offline session's queue would be written otherwise).
 *
 * Nobody can lock a principal out of invitations: past `maxPending` unaccepted ones, the new
 * invitation displaces its oldest (that one is held from then on, and the invitee is told it went).
 * One inviter alone cannot fill the list (`perInviter`); many, keeping it full, only push out
 * each other's invitations, oldest first.
 */
import type { Role } from '../../shared/identity.js'
import type { Conversation, Member } from '../../shared/protocol.js'
import type { ConversationStore, Invitation, PrincipalRecord } from '../store/ports.js'
import type { EventPublisher } from './events.js'

/** Roles others may add to a conversation; a visitor is reached through the support desk only. */
export const ADDABLE_ROLES: readonly Role[] = ['user', 'agent', 'admin', 'device']

export interface InvitationLimits {
  /** most unaccepted invitations one principal keeps; a new one displaces the oldest */
  maxPending: number
  /** most unaccepted invitations of one principal from one inviter; more are held */
  perInviter: number
}

export interface InvitationDeps {
  conversations: ConversationStore
  events: EventPublisher
  limits: InvitationLimits
  /** logs an event that could not be published (the invitee's client finds it on its next sync) */
  onLost?: (err: unknown) => void
}

/** What becomes of one invitation: it reaches its invitee (displacing its oldest one), or is held. */
export type Delivery = { kind: 'deliver', displace?: Invitation } | { kind: 'hold' }

export class Invitations {
  readonly #deps: InvitationDeps

  constructor (deps: InvitationDeps) {
    this.#deps = deps
  }

  /** Whether an invitation of `uid` (whose record is `record`, if any) by `inviter` reaches it. */
  async decide (uid: string, record: PrincipalRecord | undefined, inviter: string): Promise<Delivery> {
    // read for every uid, whether it exists or not: the same round trips either way
    const open = await this.#deps.conversations.invitationsOf(uid)
    if (!isAddable(record)) return { kind: 'hold' }
    const { maxPending, perInviter } = this.#deps.limits
    if (open.filter((i) => i.by === inviter).length >= perInviter) return { kind: 'hold' }
    if (open.length < maxPending) return { kind: 'deliver' }
    return { kind: 'deliver', displace: open.reduce((a, b) => (b.at < a.at || (b.at === a.at && b.cid < a.cid) ? b : a)) }
  }

  /** The member entry of an invitee: pending, `held` unless the invitation reaches it. */
  member (uid: string, inviter: string, delivery: Delivery, joinedAt: number, readSeq: number): Member {
    return { uid, role: 'member', joinedAt, readSeq, pending: true, invitedBy: inviter, ...(delivery.kind === 'hold' ? { held: true } : {}) }
  }

  /** After the new invitations are stored: the ones they displace are withdrawn. */
  async settle (deliveries: ReadonlyMap<string, Delivery>): Promise<void> {
    await Promise.all([...deliveries].map(async ([uid, delivery]) => {
      if (delivery.kind === 'deliver' && delivery.displace) await this.#withdraw(delivery.displace.cid, uid)
    }))
  }

  /** Tells `uids` about `conv` without waiting for it (see above); a failure is only logged. */
  tellInvitees (uids: readonly string[], event: { type: 'created' | 'member-added', conv: Conversation, uid?: string }): void {
    if (uids.length === 0) return
    this.#deps.events.toInboxes(uids, { ev: 'conv', ...event, conv: publicView(event.conv) })
      .catch((err: unknown) => this.#deps.onLost?.(err))
  }

  /** `uid`'s invitation to `cid` is held from now on; it is told the conversation went. */
  async #withdraw (cid: string, uid: string): Promise<void> {
    let changed = false
    const next = await this.#deps.conversations.update(cid, (conv) => {
      changed = conv.members.some((m) => m.uid === uid && m.pending === true && m.held !== true)
      return changed ? { ...conv, members: conv.members.map((m) => (m.uid === uid ? { ...m, held: true } : m)) } : conv
    })
    if (changed) await this.#deps.events.toInbox(uid, { ev: 'conv', type: 'member-removed', conv: publicView(next), uid })
  }
}

/** May someone else add this principal? (No for a uid that does not exist.) */
export function isAddable (record: PrincipalRecord | undefined): boolean {
  return record !== undefined && record.disabled !== true && ADDABLE_ROLES.includes(record.role)
}

/** Whether `uid` is a member of `conv` (a held invitee is not). */
export function isMember (conv: Conversation, uid: string): boolean {
  return conv.members.some((m) => m.uid === uid && m.held !== true)
}

/** The conversation as the API shows it: a held invitee looks like any pending one. */
export function publicView<T extends Conversation> (conv: T): T {
  if (!conv.members.some((m) => m.held !== undefined)) return conv
  return { ...conv, members: conv.members.map(({ held: _held, ...m }) => m) }
}
