/**
 * [MQTT-4.7.2-1] A filter that starts with a wildcard (`#`, `+/…`) matches no topic that starts
 * with `$`. aedes 1.2 applies the rule to live deliveries only (and keeps `$SYS/…` out of offline
 * queues). The subscriptions an offline queue is filled for come from the persistence, whose
 * matcher knows nothing of the rule: a persistent `#` session found `$foo/bar` queued. (The
 * retained messages a new subscription receives follow the rule in retained-lookup.ts.)
 */
import { matches } from '../acl/topic-filter.js'

export interface StoredSubscription { topic: string, qos: number }

/**
 * The subscriptions an offline message on `topic` is queued for: for a `$` topic, not the
 * wildcard-first ones. aedes-persistence-level's matcher leaves out a filter that an earlier
 * filter of the same client (same QoS) matches as if it were a topic — `$app/#` after `#` — so for
 * a client matched through a wildcard only, its stored filters are read again.
 */
export async function subscriptionsForTopic<S extends StoredSubscription & { clientId: string }> (
  topic: string, subs: S[], storedOf: (clientId: string) => Promise<StoredSubscription[]>
): Promise<Array<StoredSubscription & { clientId: string }>> {
  if (!topic.startsWith('$')) return subs
  const kept: Array<StoredSubscription & { clientId: string }> = subs.filter((sub) => !startsWithWildcard(sub.topic))
  const wildcardOnly = new Set(subs.map((sub) => sub.clientId).filter((clientId) => !kept.some((sub) => sub.clientId === clientId)))
  for (const clientId of wildcardOnly) {
    const named = (await storedOf(clientId)).filter((sub) => !startsWithWildcard(sub.topic) && matches(sub.topic, topic))
    const best = named.reduce<StoredSubscription | undefined>((a, b) => a && a.qos >= b.qos ? a : b, undefined)
    if (best) kept.push({ clientId, topic: best.topic, qos: best.qos })
  }
  return kept
}

function startsWithWildcard (filter: string): boolean {
  return filter.startsWith('#') || filter.startsWith('+')
}
