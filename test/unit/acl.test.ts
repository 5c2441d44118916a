import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Acl } from '../../broker/acl/acl.js'
import { AclSyntaxError, GenericAcl } from '../../broker/acl/generic-rules.js'
import { imMayPublish, imMaySubscribe } from '../../broker/acl/im-rules.js'
import { covers, isValidFilter, matches } from '../../broker/acl/topic-filter.js'

describe('topic filters', () => {
  it('validates wildcards [MQTT-4.7.1-2] [MQTT-4.7.1-3]', () => {
    for (const ok of ['a', 'a/b', '#', 'a/#', '+', '+/b/+', '/', 'a//b']) assert.ok(isValidFilter(ok), ok)
    for (const bad of ['', 'a#', 'a/#/b', 'a+/b', '#/a', 'a/b+']) assert.ok(!isValidFilter(bad), bad)
  })

  it('matches exactly as splitting both into levels would, over every small filter and topic', () => {
    // the reference: the plain definition, levels split on '/'
    const reference = (filter: string, topic: string): boolean => {
      if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
      const f = filter.split('/')
      const t = topic.split('/')
      for (let i = 0; i < f.length; i++) {
        if (f[i] === '#') return true
        if (i >= t.length) return false
        if (f[i] !== '+' && f[i] !== t[i]) return false
      }
      return f.length === t.length
    }
    const levels = ['', 'a', 'b', 'ab', '$x']
    const topicsOf = (n: number): string[] => n === 1 ? levels : topicsOf(n - 1).flatMap((t) => levels.map((l) => `${t}/${l}`))
    const allTopics = [1, 2, 3].flatMap(topicsOf)
    const filters = [...allTopics, ...allTopics.flatMap((t) => [t.replace(/[^/]*$/, '#'), t.replace(/^[^/]*/, '+'), t.replace(/\/[^/]*\//, '/+/')])].filter(isValidFilter)
    let compared = 0
    for (const filter of filters) {
      for (const topic of allTopics) {
        assert.equal(matches(filter, topic), reference(filter, topic), `${filter} vs ${topic}`)
        compared++
      }
    }
    assert.ok(compared > 10_000)
  })

  it('matches topics, keeping $ topics out of leading wildcards [MQTT-4.7.2-1]', () => {
    assert.ok(matches('a/+/c', 'a/b/c'))
    assert.ok(matches('a/#', 'a'))
    assert.ok(matches('a/#', 'a/b/c'))
    assert.ok(!matches('a/+', 'a/b/c'))
    assert.ok(!matches('#', '$SYS/x'))
    assert.ok(!matches('+/x', '$SYS/x'))
    assert.ok(matches('$SYS/#', '$SYS/x'))
  })

  it('knows when a rule covers a whole subscription', () => {
    assert.ok(covers('a/#', 'a/b/+'))
    assert.ok(covers('a/+', 'a/b'))
    assert.ok(covers('a/+', 'a/+'))
    assert.ok(!covers('a/+', 'a/#'))
    assert.ok(!covers('a/b', 'a/+'))
    assert.ok(covers('#', '#'))
  })
})

describe('IM rules', () => {
  const alice = { uid: 'alice', role: 'user' as const, grants: { presence: [], channels: [] } }
  const agent = { uid: 'ag', role: 'agent' as const, grants: { presence: ['*'], channels: ['support/queue'] } }
  it('allows the own inbox only', () => {
    assert.ok(imMaySubscribe(alice, 'im/u/alice/in'))
    for (const f of ['im/u/bob/in', 'im/u/+/in', 'im/#', 'im/u/alice/out', 'im/u/alice/#', 'im/p/+', 'im/b/support/queue']) assert.ok(!imMaySubscribe(alice, f), f)
    assert.ok(!imMaySubscribe({ grants: { presence: ['*'], channels: ['*'] } }, 'im/u/alice/in'), 'anonymous never')
  })
  it('follows presence and channel grants', () => {
    assert.ok(imMaySubscribe(agent, 'im/p/+'))
    assert.ok(imMaySubscribe(agent, 'im/p/bob'))
    assert.ok(!imMaySubscribe(agent, 'im/p/#/x'))
    assert.ok(imMaySubscribe(agent, 'im/b/support/queue'))
    assert.ok(!imMaySubscribe(agent, 'im/b/support/#'))
  })
  it('allows publishing to the own outbox only, and admins to broadcast', () => {
    assert.ok(imMayPublish(alice, 'im/u/alice/out'))
    assert.ok(!imMayPublish(alice, 'im/u/alice/in'))
    assert.ok(!imMayPublish(alice, 'im/b/news'))
    assert.ok(imMayPublish({ uid: 'admin', role: 'admin', grants: { presence: [], channels: [] } }, 'im/b/news'))
  })
  // A command on `im/u/{uid}/out` runs as `{uid}`: publishing there for someone else would be
  // sending, reading and closing chats in their name. [IM-ACL-1]
  it('refuses publishing to another uid\'s outbox or inbox, whatever the role and grants', () => {
    const admin = { uid: 'admin', role: 'admin' as const, grants: { presence: ['*'], channels: ['*'] } }
    for (const who of [alice, agent, admin]) {
      for (const topic of ['im/u/bob/out', 'im/u/bob/in', `im/u/${who.uid}x/out`, `im/u/${who.uid}/out/x`, `im/u/${who.uid}/outbox`]) {
        assert.ok(!imMayPublish(who, topic), `${who.uid} → ${topic}`)
      }
    }
    assert.ok(!imMayPublish(alice, 'im/u/alic/out'), 'nor to the outbox of a uid it starts with')
    assert.ok(!imMayPublish({ grants: { presence: ['*'], channels: ['*'] } }, 'im/u/alice/out'), 'anonymous never')
  })
  it('refuses subscribing to another uid\'s outbox or inbox, and to any outbox', () => {
    const admin = { uid: 'admin', role: 'admin' as const, grants: { presence: ['*'], channels: ['*'] } }
    for (const who of [alice, agent, admin]) {
      for (const filter of ['im/u/bob/out', 'im/u/bob/in', 'im/u/+/out', 'im/u/bob/#', 'im/u/+/+', 'im/u/#', `im/u/${who.uid}/out`, `im/u/${who.uid}/+`]) {
        assert.ok(!imMaySubscribe(who, filter), `${who.uid} ← ${filter}`)
      }
    }
  })
  it('keeps other uids\' inboxes and outboxes closed when the generic ACL file opens everything', () => {
    const acl = new Acl(GenericAcl.parse('role user\ntopic readwrite #'))
    const who = { ...alice, clientId: 'alice-1' }
    assert.ok(acl.mayPublish(who, 'im/u/alice/out'))
    for (const topic of ['im/u/bob/out', 'im/u/bob/in']) assert.ok(!acl.mayPublish(who, topic), topic)
    for (const filter of ['im/u/bob/out', 'im/u/bob/in', 'im/u/+/out', 'im/u/alice/out']) assert.ok(!acl.maySubscribe(who, filter), filter)
    assert.ok(acl.maySubscribe(who, '#'), 'a generic `#` is granted…')
    for (const topic of ['im/u/bob/out', 'im/u/bob/in', 'im/u/alice/out']) assert.ok(!acl.mayReceive(who, topic), `…but never delivers ${topic}`)
    assert.ok(acl.mayReceive(who, 'im/u/alice/in'))
  })
})

describe('generic ACL file', () => {
  const acl = GenericAcl.parse([
    '# anonymous',
    'topic read public/#',
    'user alice',
    'topic readwrite alice/#',
    'topic deny alice/secret/#',
    'role device',
    'topic read firmware/#',
    'pattern readwrite devices/%u/#',
    'pattern write clients/%c/status'
  ].join('\n'))
  const anon = { clientId: 'c1' }
  const alice = { uid: 'alice', role: 'user' as const, clientId: 'a1' }
  const lamp = { uid: 'lamp', role: 'device' as const, clientId: 'lamp-1' }

  it('applies anonymous, user, role and pattern rules', () => {
    assert.ok(acl.canSubscribe(anon, 'public/+'))
    assert.ok(!acl.canPublish(anon, 'public/x'))
    assert.ok(!acl.canSubscribe(anon, 'devices/+/x'), '%u never matches an anonymous client')
    assert.ok(acl.canPublish(alice, 'alice/x'))
    assert.ok(!acl.canSubscribe(alice, 'public/#'), 'user sections replace the anonymous one')
    assert.ok(acl.canSubscribe(lamp, 'firmware/#'))
    assert.ok(!acl.canSubscribe(alice, 'firmware/#'))
    assert.ok(acl.canPublish(lamp, 'devices/lamp/state'))
    assert.ok(!acl.canPublish(lamp, 'devices/other/state'))
    assert.ok(acl.canPublish(lamp, 'clients/lamp-1/status'))
    assert.ok(acl.canPublish(anon, 'clients/c1/status'))
  })

  it('lets deny win and never grants im/', () => {
    assert.ok(!acl.canRead(alice, 'alice/secret/key'))
    assert.ok(!acl.canSubscribe(alice, 'alice/secret/#'))
    const open = GenericAcl.parse('topic readwrite #')
    assert.ok(open.canSubscribe(anon, '#'))
    assert.ok(!open.canRead(anon, 'im/u/alice/in'))
    assert.ok(!open.canPublish(anon, 'im/u/alice/out'))
    assert.ok(!open.canSubscribe(anon, 'im/#'))
  })

  it('keeps $ topics out of `#` and `+` rules, and opens them with an explicit $ rule, as Mosquitto does [MQTT-4.7.2-1]', () => {
    const file = GenericAcl.parse('topic readwrite #\ntopic read $app/#')
    assert.ok(!file.canPublish(anon, '$foo/bar'))
    assert.ok(!file.canSubscribe(anon, '$foo/#'))
    assert.ok(!file.canRead(anon, '$foo/bar'))
    assert.ok(file.canSubscribe(anon, '$app/#'))
    assert.ok(file.canRead(anon, '$app/x'))
    assert.ok(!file.canPublish(anon, '$app/x'), 'read only')
    assert.ok(!GenericAcl.parse('topic readwrite +/#').canPublish(anon, '$foo/bar'))
  })

  it('opens every $ topic but $SYS to anonymous clients with the ANONYMOUS_NAMESPACE entry `#`', () => {
    const open = GenericAcl.empty().withAnonymousNamespace(['#'])
    for (const topic of ['$foo/bar', '$foo', '$', '$SYSTEM/x', '$share-like/x/y']) {
      assert.ok(open.canPublish(anon, topic), topic)
      assert.ok(open.canRead(anon, topic), topic)
    }
    for (const filter of ['$foo/#', '$foo/+/x', '$foo/bar']) assert.ok(open.canSubscribe(anon, filter), filter)
    for (const sys of ['$SYS', '$SYS/broker/heartbeat']) {
      assert.ok(!open.canPublish(anon, sys), sys)
      assert.ok(!open.canRead(anon, sys), sys)
    }
    assert.ok(!open.canSubscribe(anon, '$SYS/#'))
    assert.ok(!open.canPublish(anon, 'im/u/alice/out'), 'and never im/')
    assert.ok(!open.canPublish(alice, '$foo/bar'), 'for anonymous clients only')
    // other entries open only what they name
    const some = GenericAcl.empty().withAnonymousNamespace(['sensors/#', '+/status'])
    assert.ok(!some.canPublish(anon, '$foo/bar'))
    assert.ok(!some.canSubscribe(anon, '$foo/#'))
    // a deny line of the ACL file still wins
    const denied = GenericAcl.parse('topic deny $private/#').withAnonymousNamespace(['#'])
    assert.ok(!denied.canPublish(anon, '$private/x'))
    assert.ok(denied.canPublish(anon, '$public/x'))
  })

  it('reports syntax errors with the line number', () => {
    assert.throws(() => GenericAcl.parse('topic read ok\nfrobnicate x', 'my.acl'), (err: unknown) => err instanceof AclSyntaxError && /my\.acl:2: unknown keyword "frobnicate"/.test(err.message))
    assert.throws(() => GenericAcl.parse('topic read a/#/b'), /invalid topic filter/)
    assert.throws(() => GenericAcl.parse('role wizard'), /role/)
  })
})
