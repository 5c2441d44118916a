/**
 * Group commit's failure rule. The root here is a stub (a database whose write fails while more
 * writes wait behind it cannot be arranged on a working LevelDB); the real batch failure is in
 * level-pipelined-append.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { WriteBatch } from '../../../broker/store/level/write-batch.js'
import type { RootDb } from '../../../broker/store/level/open.js'

describe('write batch', () => {
  it('writes what is asked for in one turn as one batch, in order', async () => {
    const batches: string[][] = []
    const root = { batch: async (ops: Array<{ key: string }>) => { batches.push(ops.map((o) => o.key)) } } as unknown as RootDb
    const batch = new WriteBatch(root)
    await Promise.all([batch.write([{ type: 'put', sublevel: null, key: 'a', value: 1 }]), batch.write([{ type: 'del', sublevel: null, key: 'b' }, { type: 'put', sublevel: null, key: 'c', value: 1 }])])
    assert.deepEqual(batches, [['a', 'b', 'c']])
  })

  it('fails the writes waiting behind a failed batch too, moves the epoch on first, and carries on after', async () => {
    let release!: () => void
    let calls = 0
    const written: string[][] = []
    const root = {
      batch: async (ops: Array<{ key: string }>) => {
        calls++
        if (calls === 1) {
          await new Promise<void>((resolve) => { release = resolve })
          throw new Error('disk full')
        }
        written.push(ops.map((o) => o.key))
      }
    } as unknown as RootDb
    const batch = new WriteBatch(root)
    const seen: string[] = []
    batch.onFailure(() => seen.push(`failure at epoch ${batch.epoch}`))
    const first = batch.write([{ type: 'put', sublevel: null, key: 'seq-1', value: 1 }])
    while (calls === 0) await new Promise((resolve) => setImmediate(resolve))
    const behind = batch.write([{ type: 'put', sublevel: null, key: 'seq-2', value: 1 }]) // builds on seq-1
    first.catch(() => seen.push('first rejected'))
    behind.catch(() => seen.push('behind rejected'))
    release()
    await assert.rejects(first, /disk full/)
    await assert.rejects(behind, /disk full/)
    assert.deepEqual(seen, ['failure at epoch 1', 'first rejected', 'behind rejected'])
    await batch.write([{ type: 'put', sublevel: null, key: 'seq-1', value: 2 }])
    assert.deepEqual(written, [['seq-1']], 'seq-2 was never written; the next write goes through')
  })
})
