import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { KeyFilter } from '../../../broker/store/level/key-filter.js'

async function * keys (n: number, prefix: string): AsyncGenerator<string> {
  for (let i = 0; i < n; i++) yield `${prefix}!g_${i}!c-${i.toString(36)}`
}

describe('key filter', () => {
  it('answers "maybe" for everything until it has loaded', async () => {
    const filter = new KeyFilter()
    assert.equal(filter.mightHave('anything'), true)
    await filter.load(keys(0, 'x'))
    assert.equal(filter.mightHave('anything'), false)
  })

  it('never misses a stored key, also past its first capacity, and rarely claims an absent one', async () => {
    const filter = new KeyFilter()
    await filter.load(keys(150_000, 'alice'))
    for (let i = 150_000; i < 250_000; i++) filter.add(`alice!g_${i}!c-${i.toString(36)}`)
    for await (const key of keys(250_000, 'alice')) assert.ok(filter.mightHave(key), key)
    let falsePositives = 0
    for await (const key of keys(100_000, 'bob')) if (filter.mightHave(key)) falsePositives++
    assert.ok(falsePositives < 3000, `${falsePositives} false positives in 100,000`)
  })
})
