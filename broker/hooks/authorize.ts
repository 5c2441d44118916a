/** The three ACL hooks: each asks the `Acl` one question. [IM-ACL-1..4] */
import { ImError } from '../../shared/errors.js'
import type { Acl } from '../acl/acl.js'
import type { AuthorizeForwardHook, AuthorizePublishHook, AuthorizeSubscribeHook } from './types.js'

export function createAuthorizePublish (acl: Acl): AuthorizePublishHook {
  return async (context, { topic }) => {
    if (!acl.mayPublish(context, topic)) throw new ImError('IM_ERR_FORBIDDEN', `may not publish to ${topic}`)
  }
}

export function createAuthorizeSubscribe (acl: Acl): AuthorizeSubscribeHook {
  return async (context, filter) => acl.maySubscribe(context, filter)
}

export function createAuthorizeForward (acl: Acl): AuthorizeForwardHook {
  return (context, topic) => acl.mayReceive(context, topic)
}
