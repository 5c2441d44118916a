/**
 * The contract every `NodeStore` must meet: broker nodes' leases, and which principals have
 * connections on which node (presence across nodes). [IM-PRESENCE-1]
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { NodeRecord, NodeStore } from '../../broker/store/ports.js'

export interface NodeStoreFixture { nodes: NodeStore, close (): Promise<void> }

const byNode = (list: NodeRecord[]): NodeRecord[] => [...list].sort((a, b) => a.node.localeCompare(b.node))

export function runNodeStoreContract (build: () => Promise<NodeStoreFixture>): void {
  const withStore = (test: (s: NodeStore) => Promise<void>) => async () => {
    const fixture = await build()
    try { await test(fixture.nodes) } finally { await fixture.close() }
  }

  it('keeps each node\'s lease, the newest renewal winning', withStore(async (s) => {
    assert.deepEqual(await s.list(), [])
    await s.renew({ node: 'n1', startedAt: 1, expiresAt: 100 })
    await s.renew({ node: 'n2', startedAt: 2, expiresAt: 150 })
    await s.renew({ node: 'n1', startedAt: 1, expiresAt: 200 })
    assert.deepEqual(byNode(await s.list()), [{ node: 'n1', startedAt: 1, expiresAt: 200 }, { node: 'n2', startedAt: 2, expiresAt: 150 }])
  }))

  it('knows on which nodes a principal is connected, and who is on a node', withStore(async (s) => {
    await s.setPresent('u1', 'n1', true)
    await s.setPresent('u1', 'n2', true)
    await s.setPresent('u2', 'n1', true)
    await s.setPresent('u1', 'n1', true) // twice: still once
    assert.deepEqual((await s.nodesOf('u1')).sort(), ['n1', 'n2'])
    assert.deepEqual((await s.presentOn('n1')).sort(), ['u1', 'u2'])
    assert.deepEqual(await s.nodesOf('u'), [], 'a uid another one starts with is another principal')
    await s.setPresent('u1', 'n1', false)
    await s.setPresent('u3', 'n1', false) // never there: nothing changes
    assert.deepEqual(await s.nodesOf('u1'), ['n2'])
    assert.deepEqual(await s.presentOn('n1'), ['u2'])
  }))

  it('forgets a node with its presence entries, and only that node', withStore(async (s) => {
    await s.renew({ node: 'n1', startedAt: 1, expiresAt: 100 })
    await s.renew({ node: 'n2', startedAt: 2, expiresAt: 100 })
    await s.setPresent('u1', 'n1', true)
    await s.setPresent('u1', 'n2', true)
    await s.setPresent('u2', 'n1', true)
    await s.remove('n1')
    assert.deepEqual((await s.list()).map((n) => n.node), ['n2'])
    assert.deepEqual(await s.nodesOf('u1'), ['n2'])
    assert.deepEqual(await s.nodesOf('u2'), [])
    assert.deepEqual(await s.presentOn('n1'), [])
    await s.remove('never')
  }))
}
