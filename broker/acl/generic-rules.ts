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
 * under `im/`: that namespace has its own rules. [IM-ACL-4]
 */
import { isImNamespace } from '../../shared/topics.js'
import { isRole, type Role } from '../../shared/identity.js'
import { covers, isValidFilter, matches } from './topic-filter.js'

type Access = 'read' | 'write' | 'readwrite' | 'deny'
type Scope = { kind: 'anonymous' } | { kind: 'user', uid: string } | { kind: 'role', role: Role } | { kind: 'pattern' }

interface Rule {
  scope: Scope
  access: Access
  topic: string
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

  /** Adds `topic readwrite <filter>` for anonymous clients (the ANONYMOUS_NAMESPACE setting). */
  withAnonymousNamespace (filters: string[]): GenericAcl {
    const extra = filters.map((topic): Rule => ({ scope: { kind: 'anonymous' }, access: 'readwrite', topic }))
    return new GenericAcl([...this.#rules, ...extra])
  }

  /** May `who` subscribe to `filter`? Filters whose first level is `im` are never granted here. */
  canSubscribe (who: GenericSubject, filter: string): boolean {
    if (isImNamespace(filter)) return false
    return this.#decide(who, 'read', (pattern) => covers(pattern, filter))
  }

  /** May `who` receive a message on `topic`? (checked on every delivery) */
  canRead (who: GenericSubject, topic: string): boolean {
    if (isImNamespace(topic)) return false
    return this.#decide(who, 'read', (pattern) => matches(pattern, topic))
  }

  canPublish (who: GenericSubject, topic: string): boolean {
    if (isImNamespace(topic)) return false
    return this.#decide(who, 'write', (pattern) => matches(pattern, topic))
  }

  #decide (who: GenericSubject, want: 'read' | 'write', test: (pattern: string) => boolean): boolean {
    let allowed = false
    for (const rule of this.#rules) {
      const pattern = patternFor(rule, who)
      if (pattern === null || !test(pattern)) continue
      if (rule.access === 'deny') return false
      if (rule.access === 'readwrite' || rule.access === want) allowed = true
    }
    return allowed
  }
}

function patternFor (rule: Rule, who: GenericSubject): string | null {
  const { scope } = rule
  switch (scope.kind) {
    case 'anonymous': return who.uid === undefined ? rule.topic : null
    case 'user': return who.uid === scope.uid ? rule.topic : null
    case 'role': return who.role === scope.role ? rule.topic : null
    case 'pattern': {
      if (rule.topic.includes('%u') && who.uid === undefined) return null
      // %u / %c must fill a whole level and cannot smuggle wildcards in: uids are [A-Za-z0-9_-].
      if (rule.topic.includes('%c') && /[+#/]/.test(who.clientId)) return null
      return rule.topic.replaceAll('%u', who.uid ?? '').replaceAll('%c', who.clientId)
    }
  }
}
