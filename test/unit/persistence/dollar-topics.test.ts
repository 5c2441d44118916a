import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { retainedForPatterns, subscriptionsForTopic, type StoredSubscription } from '../../../broker/persistence/dollar-topics.js'

async function * packets (...topics: string[]): AsyncGenerator<{ topic: string }> {
  for (const topic of topics) yield { topic }
}

async function collect<T> (items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

describe('$ topics in the persistence [MQTT-4.7.2-1]', () => {
  it('keeps a retained $ topic only for a pattern that names it', async () => {
    const found = packets('$app/x', 'plain/x', '$SYS/y')
    assert.deepEqual(await collect(retainedForPatterns(['#', '+/x'], found)), [{ topic: 'plain/x' }])
    assert.deepEqual(await collect(retainedForPatterns(['#', '$app/#'], packets('$app/x', 'plain/x'))), [{ topic: '$app/x' }, { topic: 'plain/x' }])
  })

  it('queues a $ topic for no wildcard-first subscription, but for a named one the matcher left out', async () => {
    const stored: Record<string, StoredSubscription[]> = { a: [{ topic: '#', qos: 1 }, { topic: '$app/#', qos: 1 }], b: [{ topic: '#', qos: 1 }] }
    const storedOf = async (clientId: string): Promise<StoredSubscription[]> => stored[clientId] ?? []
    const trie = [{ clientId: 'a', topic: '#', qos: 1 }, { clientId: 'b', topic: '#', qos: 1 }, { clientId: 'c', topic: '$app/x', qos: 0 }]
    assert.deepEqual(await subscriptionsForTopic('$app/x', trie, storedOf), [{ clientId: 'c', topic: '$app/x', qos: 0 }, { clientId: 'a', topic: '$app/#', qos: 1 }])
    assert.deepEqual(await subscriptionsForTopic('plain/x', trie.slice(0, 2), storedOf), trie.slice(0, 2), 'other topics untouched')
  })
})
