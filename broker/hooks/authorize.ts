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

export function createAuthorizeForward (acl: Acl): AuthorizeForwardHook {
  return (context, topic) => acl.mayReceive(context, topic)
}
