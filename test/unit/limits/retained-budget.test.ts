import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RetainedBudget, retainedOwner } from '../../../broker/limits/retained-budget.js'

describe('the retained budget', () => {
  it('counts a principal by its uid, an anonymous client by its address (IPv6 by its /56), whatever its client id', () => {
    assert.equal(retainedOwner({ uid: 'lamp', clientId: 'a' }, '203.0.113.7'), 'uid:lamp')
    assert.equal(retainedOwner({ clientId: 'a' }, '203.0.113.7'), retainedOwner({ clientId: 'b' }, '203.0.113.7'))
    assert.notEqual(retainedOwner({ clientId: 'a' }, '203.0.113.7'), retainedOwner({ clientId: 'a' }, '203.0.113.8'))
    assert.equal(retainedOwner({ clientId: 'a' }, '2001:db8:1:2::1'), retainedOwner({ clientId: 'b' }, '2001:db8:1:2:ffff::9'), 'one IPv6 network, one share')
    assert.equal(retainedOwner({ clientId: 'a' }, '::ffff:203.0.113.7'), 'addr:::ffff:203.0.113.7')
    assert.equal(retainedOwner({ clientId: 'a' }, undefined), 'client:a')
  })

  it('keeps a publisher within its share and the store within its ceiling; replacing or clearing one\'s own frees it', () => {
    const budget = new RetainedBudget({ maxMessages: 5, maxBytes: 1000, perOwner: { messages: 2, bytes: 100 } })
    assert.equal(budget.admit('a/1', 10, 'x'), 'kept')
    assert.equal(budget.admit('a/2', 10, 'x'), 'kept')
    assert.equal(budget.admit('a/3', 10, 'x'), 'share')
    assert.equal(budget.admit('a/1', 90, 'x'), 'kept', 'a replacement takes no new place')
    assert.equal(budget.admit('a/2', 20, 'x'), 'share', 'bytes: 90 + 20 > 100')
    assert.equal(budget.admit('a/2', 0, 'x'), 'kept')
    assert.equal(budget.admit('a/3', 10, 'x'), 'kept')
    assert.deepEqual(budget.usageOf('x'), { messages: 2, bytes: 100 })
    // another publisher replacing x's topic takes it over
    assert.equal(budget.admit('a/3', 5, 'y'), 'kept')
    assert.deepEqual([budget.usageOf('x'), budget.usageOf('y')], [{ messages: 1, bytes: 90 }, { messages: 1, bytes: 5 }])
    for (const [n, owner] of [[4, 'y'], [5, 'z'], [6, 'w'], [7, 'w']] as const) assert.equal(budget.admit(`a/${n}`, 1, owner), n === 7 ? 'total' : 'kept', `a/${n}`)
    // loaded at start: counted in the store, against nobody's share
    budget.load('old/1', 50)
    assert.deepEqual(budget.usage, { messages: 6, bytes: 148 })
  })
})
