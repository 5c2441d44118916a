/**
 * Rules for the generic MQTT namespace (every topic outside `im/`), written like Mosquitto's
 * `acl_file`:
 *
 *   # lines before any `user` line apply to anonymous clients
 *   topic read public/#
 *   # rules for one uid
 *   user alice
 *   topic readwrite alice/#
 *   # (our addition) rules for every principal of a role
 *   role device
 *   topic read firmware/#
 *   # every client; %u = uid (authenticated only), %c = client id
 *   pattern readwrite devices/%u/#
 *
 * Access is `read`, `write`, `readwrite` or `deny`; deny wins. Nothing here ever grants a topic
 * under `im/`: that namespace has its own rules. [IM-ACL-4] As in Mosquitto, `#` and `+` match no
 * `$` topic [MQTT-4.7.2-1]: `topic readwrite $app/#` opens `$app/…`. Only the ANONYMOUS_NAMESPACE
 * entry `#` opens every `$` topic but `$SYS` (see `withAnonymousNamespace`).
 */
import { isImNamespace } from '../../shared/topics.js'
import { isRole, type Role } from '../../shared/identity.js'
import { covers, isValidFilter, matches } from './topic-filter.js'

type Access = 'read' | 'write' | 'readwrite' | 'deny'
type Scope = { kind: 'anonymous' } | { kind: 'user', uid: string } | { kind: 'role', role: Role } | { kind: 'pattern' }

/** Stands for every topic (and filter) whose first level starts with `$`, except the broker's `$SYS`. */
const DOLLAR_TOPICS = Symbol('every $ topic but $SYS')

interface Rule {
  scope: Scope
  access: Access
  topic: string | typeof DOLLAR_TOPICS
}

export interface GenericSubject {
  uid?: string
  role?: Role
  clientId: string
}

export class AclSyntaxError extends Error {
  constructor (source: string, line: number, problem: string) {
    super(`${source}:${line}: ${problem}`)
    this.name = 'AclSyntaxError'
  }
}

export class GenericAcl {
  readonly #rules: Rule[]

  private constructor (rules: Rule[]) {
    this.#rules = rules
  }

  static parse (text: string, source = 'acl'): GenericAcl {
    const rules: Rule[] = []
    let section: Scope = { kind: 'anonymous' }
    text.split(/\r?\n/).forEach((raw, index) => {
      // Like Mosquitto, only whole lines are comments: `#` is also the multi-level wildcard.
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) return
      const [keyword, ...rest] = line.split(/\s+/)
      const fail = (problem: string): never => { throw new AclSyntaxError(source, index + 1, problem) }
      switch (keyword) {
        case 'user':
          if (rest.length !== 1) fail('`user` takes one uid')
          section = { kind: 'user', uid: rest[0] as string }
          return
        case 'role':
          if (rest.length !== 1 || !isRole(rest[0])) fail('`role` takes one of visitor, user, agent, admin, device')
          section = { kind: 'role', role: rest[0] as Role }
          return
        case 'topic':
        case 'pattern': {
          const [access, topic] = rest.length === 1 ? ['readwrite', rest[0]] : rest
          if (rest.length < 1 || rest.length > 2) fail(`\`${keyword}\` takes [read|write|readwrite|deny] <topic>`)
          if (access !== 'read' && access !== 'write' && access !== 'readwrite' && access !== 'deny') fail(`unknown access "${access}"`)
          if (!topic || !isValidFilter(topic)) fail(`invalid topic filter "${topic}"`)
          rules.push({ scope: keyword === 'pattern' ? { kind: 'pattern' } : section, access: access as Access, topic: topic as string })
          return
        }
        default:
          fail(`unknown keyword "${keyword}"`)
      }
    })
    return new GenericAcl(rules)
  }

  static empty (): GenericAcl {
    return new GenericAcl([])
  }

  /**
   * Adds `topic readwrite <filter>` for anonymous clients (the ANONYMOUS_NAMESPACE setting). The
   * entry `#` promises everything outside `im/`, but `#` matches no `$` topic [MQTT-4.7.2-1]: it
   * also opens every `$` topic except the broker's own `$SYS/…`, which clients never publish to.
   * (A subscription to `#` still receives no `$` topic: aedes keeps them out [MQTT-4.7.2-1].)
   */
  withAnonymousNamespace (filters: string[]): GenericAcl {
    const extra = filters.flatMap((topic): Rule[] => {
      const rule: Rule = { scope: { kind: 'anonymous' }, access: 'readwrite', topic }
      return topic === '#' ? [rule, { ...rule, topic: DOLLAR_TOPICS }] : [rule]
    })
    return new GenericAcl([...this.#rules, ...extra])
  }

  /** May `who` subscribe to `filter`? Filters whose first level is `im` are never granted here. */
  canSubscribe (who: GenericSubject, filter: string): boolean {
    if (isImNamespace(filter)) return false
    return this.#decide(who, 'read', filter, covers)
  }

  /** May `who` receive a message on `topic`? (checked on every delivery) */
  canRead (who: GenericSubject, topic: string): boolean {
    if (isImNamespace(topic)) return false
    return this.#decide(who, 'read', topic, matches)
  }

  canPublish (who: GenericSubject, topic: string): boolean {
    if (isImNamespace(topic)) return false
    return this.#decide(who, 'write', topic, matches)
  }

  /** `subject` is a topic or a filter; `test(pattern, subject)` says whether a rule's pattern applies to it. */
  #decide (who: GenericSubject, want: 'read' | 'write', subject: string, test: (pattern: string, subject: string) => boolean): boolean {
    let allowed = false
    for (const rule of this.#rules) {
      const pattern = patternFor(rule, who)
      if (pattern === null) continue
      if (pattern === DOLLAR_TOPICS ? !isOpenDollarTopic(subject) : !test(pattern, subject)) continue
      if (rule.access === 'deny') return false
      if (rule.access === 'readwrite' || rule.access === want) allowed = true
    }
    return allowed
  }
}

/**
 * A topic or filter in `$…` but not `$SYS/…`. A valid filter starting with `$` has no wildcard in
 * its first level [MQTT-4.7.1-2] [MQTT-4.7.1-3], so the first level decides for filters too.
 */
function isOpenDollarTopic (subject: string): boolean {
  return subject.startsWith('$') && subject.split('/', 1)[0] !== '$SYS'
}

function patternFor (rule: Rule, who: GenericSubject): string | typeof DOLLAR_TOPICS | null {
  const { scope } = rule
  switch (scope.kind) {
    case 'anonymous': return who.uid === undefined ? rule.topic : null
    case 'user': return who.uid === scope.uid ? rule.topic : null
    case 'role': return who.role === scope.role ? rule.topic : null
    case 'pattern': {
      const { topic } = rule
      if (typeof topic !== 'string') return topic // (pattern rules come from the file: always a string)
      if (topic.includes('%u') && who.uid === undefined) return null
      // %u / %c must fill a whole level and cannot smuggle wildcards in: uids are [A-Za-z0-9_-].
      if (topic.includes('%c') && /[+#/]/.test(who.clientId)) return null
      return topic.replaceAll('%u', who.uid ?? '').replaceAll('%c', who.clientId)
    }
  }
}
