/**
 * Rules for the IM namespace `im/`, exactly as the public contract says: [IM-ACL-1..3]
 * - subscribe `im/u/{own uid}/in`; never another uid's inbox, never an outbox;
 * - subscribe `im/p/{uid}` for oneself and the uids the principal's grants name (`*` = all, which also allows `im/p/+`);
 * - subscribe `im/b/{channel}` when a granted channel filter covers it;
 * - publish only `im/u/{own uid}/out` (admins may also publish to `im/b/…`).
 * Any other filter in `im/` — `im/#`, `im/u/+/in`, `im/+/bob/in` — is refused.
 */
import type { Role } from '../../shared/identity.js'
import { isUid } from '../../shared/identity.js'
import { topics } from '../../shared/topics.js'
import type { Grants } from '../store/ports.js'
import { covers } from './topic-filter.js'

export interface ImSubject {
  uid?: string
  role?: Role
  grants: Grants
}

/** `filter` must lie in `im/`. Concrete topics are filters too, which makes this the delivery check as well. */
export function imMaySubscribe (who: ImSubject, filter: string): boolean {
  if (who.uid === undefined) return false
  if (filter === topics.inbox(who.uid)) return true
  const levels = filter.split('/')
  if (levels[1] === 'p' && levels.length === 3) {
    const target = levels[2] as string
    if (who.grants.presence.includes('*')) return target === '+' || isUid(target)
    return isUid(target) && (target === who.uid || who.grants.presence.includes(target))
  }
  if (levels[1] === 'b' && levels.length >= 3) {
    const channel = levels.slice(2).join('/')
    return who.grants.channels.some((granted) => granted === '*' || covers(granted, channel))
  }
  return false
}

export function imMayPublish (who: ImSubject, topic: string): boolean {
  if (who.uid === undefined) return false
  if (topic === topics.outbox(who.uid)) return true
  return who.role === 'admin' && topic.startsWith('im/b/') && topic.length > 'im/b/'.length
}
