/** The whole access decision: IM rules inside `im/`, the generic rules everywhere else. */
import { isImNamespace } from '../../shared/topics.js'
import type { Role } from '../../shared/identity.js'
import type { Grants } from '../store/ports.js'
import type { GenericAcl } from './generic-rules.js'
import { imMayPublish, imMaySubscribe } from './im-rules.js'
import { isValidFilter } from './topic-filter.js'

export interface AclSubject {
  clientId: string
  uid?: string
  role?: Role
  grants: Grants
}

export class Acl {
  constructor (readonly generic: GenericAcl) {}

  /**
   * A filter in `im/` follows the IM rules. A filter that starts with a wildcard (`#`, `+/…`) is a
   * generic filter: granted by the generic rules, it still never delivers an `im/` topic the
   * subscriber may not see — `mayReceive` filters each delivery, as `$` topics are kept out of `#`. [IM-ACL-2]
   */
  maySubscribe (who: AclSubject, filter: string): boolean {
    if (!isValidFilter(filter)) return false
    return isImNamespace(filter) ? imMaySubscribe(who, filter) : this.generic.canSubscribe(who, filter)
  }

  mayPublish (who: AclSubject, topic: string): boolean {
    return isImNamespace(topic) ? imMayPublish(who, topic) : this.generic.canPublish(who, topic)
  }

  mayReceive (who: AclSubject, topic: string): boolean {
    return isImNamespace(topic) ? imMaySubscribe(who, topic) : this.generic.canRead(who, topic)
  }
}
