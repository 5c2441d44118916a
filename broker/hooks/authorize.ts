/** The three ACL hooks: each asks the `Acl` one question. [IM-ACL-1..4] */
import { ImError } from '../../shared/errors.js'
import type { Role } from '../../shared/identity.js'
import { topics } from '../../shared/topics.js'
import type { Acl } from '../acl/acl.js'
import type { AuthorizeForwardHook, AuthorizePublishHook, AuthorizeSubscribeHook } from './types.js'

/** A command on one's own outbox is handled before the PUBACK goes out. [IM-ACK-1] */
export type OutboxHandler = (caller: { uid: string, role: Role }, payload: Buffer) => Promise<void>

export function createAuthorizePublish (acl: Acl, outbox?: OutboxHandler): AuthorizePublishHook {
  return async (context, { topic, payload }) => {
    if (!acl.mayPublish(context, topic)) throw new ImError('IM_ERR_FORBIDDEN', `may not publish to ${topic}`)
    if (outbox && context.uid !== undefined && context.role !== undefined && topic === topics.outbox(context.uid)) {
      await outbox({ uid: context.uid, role: context.role }, payload)
    }
  }
}

export function createAuthorizeSubscribe (acl: Acl): AuthorizeSubscribeHook {
  return async (context, filter) => acl.maySubscribe(context, filter)
}

/** Topics whose answer each connection remembers (the rules and its grants are fixed for its life). */
const REMEMBERED_TOPICS = 1024

/**
 * Asked for every delivery: the answer for a connection and a topic never changes while the
 * connection lives, so each connection remembers its recent answers. [IM-PERF-4]
 */
export function createAuthorizeForward (acl: Acl): AuthorizeForwardHook {
  const answers = new WeakMap<object, Map<string, boolean>>()
  return (context, topic) => {
    let known = answers.get(context)
    if (!known) answers.set(context, known = new Map())
    let allowed = known.get(topic)
    if (allowed === undefined) {
      allowed = acl.mayReceive(context, topic)
      if (known.size >= REMEMBERED_TOPICS) known.clear()
      known.set(topic, allowed)
    }
    return allowed
  }
}
