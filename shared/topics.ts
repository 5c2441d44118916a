/**
 * The topic contract (v1). Every topic the IM layer uses is built and parsed here, so
 * the broker, the client library and the tests cannot drift apart. [IM-TOPIC-1]
 */
import { isUid } from './identity.js'

/** The first level reserved for the IM layer; generic MQTT rules never reach it. [IM-ACL-1] */
export const IM_ROOT = 'im'

export const topics = {
  /** server → principal: every event for `uid` */
  inbox: (uid: string): string => `im/u/${uid}/in`,
  /** principal → server: commands from `uid` */
  outbox: (uid: string): string => `im/u/${uid}/out`,
  /** retained presence of `uid` */
  presence: (uid: string): string => `im/p/${uid}`,
  /** broadcast channel, e.g. `support/queue` */
  broadcast: (channel: string): string => `im/b/${channel}`
} as const

export type ImTopic =
  | { kind: 'inbox', uid: string }
  | { kind: 'outbox', uid: string }
  | { kind: 'presence', uid: string }
  | { kind: 'broadcast', channel: string }

/** Parses a concrete topic (no wildcards) of the IM namespace; `null` when it is not one of ours. */
export function parseImTopic (topic: string): ImTopic | null {
  const levels = topic.split('/')
  if (levels[0] !== IM_ROOT) return null
  const [, space, id, direction] = levels
  if (space === 'u' && levels.length === 4 && isUid(id)) {
    if (direction === 'in') return { kind: 'inbox', uid: id }
    if (direction === 'out') return { kind: 'outbox', uid: id }
    return null
  }
  if (space === 'p' && levels.length === 3 && isUid(id)) return { kind: 'presence', uid: id }
  if (space === 'b' && levels.length >= 3 && levels.slice(2).every((l) => l.length > 0)) {
    return { kind: 'broadcast', channel: levels.slice(2).join('/') }
  }
  return null
}

/** True when `topicOrFilter` lies in the IM namespace (its first level is exactly `im`). */
export function isImNamespace (topicOrFilter: string): boolean {
  return topicOrFilter === IM_ROOT || topicOrFilter.startsWith(`${IM_ROOT}/`)
}
