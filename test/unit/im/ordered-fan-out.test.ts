import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { OrderedFanOut } from '../../../broker/im/ordered-fan-out.js'

/** A promise settled from outside, as a store write that lands when the test says. */
function later<T> (): { promise: Promise<T>, resolve: (v: T) => void, reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}
const turn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

describe('ordered fan-out', () => {
  it('publishes in the order joined, whatever order the writes land in; other keys do not wait', async () => {
    const fanOut = new OrderedFanOut<number>()
    const published: string[] = []
    const writes = [later<number>(), later<number>(), later<number>(), later<number>()]
    const joined = [
      fanOut.join('c1', writes[0]!.promise, async (n) => { published.push(`c1:${n}`) }),
      fanOut.join('c1', writes[1]!.promise, async (n) => { published.push(`c1:${n}`) }),
      fanOut.join('c1', writes[2]!.promise, async (n) => { published.push(`c1:${n}`) }),
      fanOut.join('c2', writes[3]!.promise, async (n) => { published.push(`c2:${n}`) })
    ]
    writes[2]!.resolve(3)
    writes[3]!.resolve(1)
    writes[1]!.resolve(2)
    await turn()
    assert.deepEqual(published, ['c2:1'], 'c1 waits for its first message')
    writes[0]!.resolve(1)
    assert.deepEqual(await Promise.all(joined), [1, 2, 3, 1])
    assert.deepEqual(published, ['c2:1', 'c1:1', 'c1:2', 'c1:3'])
  })

  it('fails a message whose write failed, and still publishes the ones behind it that were stored', async () => {
    const fanOut = new OrderedFanOut<number>()
    const published: number[] = []
    const first = later<number>()
    const a = fanOut.join('c1', first.promise, async (n) => { published.push(n) })
    const b = fanOut.join('c1', Promise.resolve(2), async (n) => { published.push(n) })
    first.reject(new Error('disk full'))
    await assert.rejects(a, /disk full/)
    assert.equal(await b, 2)
    assert.deepEqual(published, [2])
  })

  it('rejects when publishing fails', async () => {
    const fanOut = new OrderedFanOut<number>()
    await assert.rejects(fanOut.join('c1', Promise.resolve(1), async () => { throw new Error('broker closed') }), /broker closed/)
  })
})
