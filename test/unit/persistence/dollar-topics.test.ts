import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { subscriptionsForTopic, type StoredSubscription } from '../../../broker/persistence/dollar-topics.js'

describe('$ topics in the persistence [MQTT-4.7.2-1]', () => {
  it('queues a $ topic for no wildcard-first subscription, but for a named one the matcher left out', async () => {
    const stored: Record<string, StoredSubscription[]> = { a: [{ topic: '#', qos: 1 }, { topic: '$app/#', qos: 1 }], b: [{ topic: '#', qos: 1 }] }
    const storedOf = async (clientId: string): Promise<StoredSubscription[]> => stored[clientId] ?? []
    const trie = [{ clientId: 'a', topic: '#', qos: 1 }, { clientId: 'b', topic: '#', qos: 1 }, { clientId: 'c', topic: '$app/x', qos: 0 }]
    assert.deepEqual(await subscriptionsForTopic('$app/x', trie, storedOf), [{ clientId: 'c', topic: '$app/x', qos: 0 }, { clientId: 'a', topic: '$app/#', qos: 1 }])
    assert.deepEqual(await subscriptionsForTopic('plain/x', trie.slice(0, 2), storedOf), trie.slice(0, 2), 'other topics untouched')
  })
})
