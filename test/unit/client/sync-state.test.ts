import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { HistoryPage, Message } from '../../../shared/protocol.js'
import { Sequencer, type SyncedRange } from '../../../shared/client/sync-state.js'
import { FakeServer, FakeTimers, flush, message } from './fakes.js'

function setup (gapGraceMs = 0) {
  const server = new FakeServer()
  const timers = new FakeTimers()
  const delivered: Message[] = []
  const synced: SyncedRange[] = []
  const failures: string[] = []
  const fetches: Array<[string, number]> = []
  let fail = 0
  let gate: Promise<void> | null = null
  const seq = new Sequencer({
    fetchAfter: async (cid, after): Promise<HistoryPage> => {
      fetches.push([cid, after])
      if (gate) await gate
      if (fail > 0) { fail--; throw new Error('HTTP down') }
      return server.page(cid, after)
    },
    deliver: (m) => delivered.push(m),
    synced: (r) => synced.push(r),
    failed: (cid, err) => failures.push(`${cid}:${(err as Error).message}`),
    timers,
    gapGraceMs
  })
  const seqs = (): number[] => delivered.map((m) => m.seq)
  return {
    server, timers, seq, delivered, synced, failures, fetches, seqs,
    failNext: (n: number) => { fail = n },
    gate: () => { let open!: () => void; gate = new Promise((resolve) => { open = resolve }); return () => { gate = null; open() } }
  }
}

describe('Sequencer: dedup and gaps', () => {
  it('hands out consecutive messages at once, starting a new conversation at its first message', () => {
    const { seq, seqs, fetches } = setup()
    for (const n of [4, 5, 6]) seq.receive(message('c1', n))
    assert.deepEqual(seqs(), [4, 5, 6])
    assert.equal(seq.lastSeq('c1'), 6)
    assert.deepEqual(fetches, [])
  })

  it('drops a message whose id it has seen, and one at or below lastSeq', () => {
    const { seq, seqs } = setup()
    seq.know('c1', 0)
    seq.receive(message('c1', 1))
    seq.receive(message('c1', 1))
    seq.receive(message('c1', 2))
    seq.receive(message('c1', 1, { id: 'other-id' }))
    seq.receive(message('c1', 2))
    assert.deepEqual(seqs(), [1, 2])
  })

  it('fills a gap over HTTP and hands out the missing messages first, in order', async () => {
    const { server, seq, seqs, fetches, synced } = setup()
    server.add(...[1, 2, 3, 4, 5].map((n) => message('c1', n)))
    seq.know('c1', 0)
    seq.receive(message('c1', 1))
    seq.receive(message('c1', 5))
    assert.deepEqual(seqs(), [1], 'the message after the gap waits')
    await flush()
    assert.deepEqual(seqs(), [1, 2, 3, 4, 5])
    assert.deepEqual(fetches, [['c1', 1]])
    assert.deepEqual(synced, [{ cid: 'c1', from: 1, to: 5 }])
  })

  it('pages until `more` is false', async () => {
    const { server, seq, seqs, fetches } = setup()
    server.pageSize = 2
    server.add(...Array.from({ length: 7 }, (_, i) => message('c1', i + 1)))
    seq.know('c1', 0)
    seq.receive(message('c1', 7))
    await flush()
    assert.deepEqual(seqs(), [1, 2, 3, 4, 5, 6, 7])
    assert.deepEqual(fetches.map(([, after]) => after), [0, 2, 4, 7], 'the last page also took the queued 7; more was still true')
  })

  it('queues what arrives during a fetch and keeps order', async () => {
    const { server, seq, seqs, fetches, gate } = setup()
    server.add(...[1, 2, 3].map((n) => message('c1', n)))
    seq.know('c1', 0)
    const open = gate()
    seq.receive(message('c1', 3))
    server.add(message('c1', 4), message('c1', 5))
    seq.receive(message('c1', 5))
    seq.receive(message('c1', 2))
    open()
    await flush()
    assert.deepEqual(seqs(), [1, 2, 3, 4, 5])
    assert.deepEqual(fetches.map(([, after]) => after), [0, 5], 'a gap seen during a fetch gets one more fetch')
  })

  it('lets crossing events fill a gap by themselves during the grace period', async () => {
    const { seq, seqs, fetches, timers } = setup(200)
    seq.know('c1', 0)
    seq.receive(message('c1', 2))
    seq.receive(message('c1', 1))
    await timers.advance(500)
    assert.deepEqual(seqs(), [1, 2])
    assert.deepEqual(fetches, [])
  })

  it('asks HTTP once the grace period is over', async () => {
    const { server, seq, seqs, fetches, timers } = setup(200)
    server.add(message('c1', 1), message('c1', 2))
    seq.know('c1', 0)
    seq.receive(message('c1', 2))
    await timers.advance(199)
    assert.deepEqual(fetches, [])
    await timers.advance(1)
    assert.deepEqual(seqs(), [1, 2])
  })

  it('keeps the queue when a fetch fails and delivers it on the next sync', async () => {
    const { server, seq, seqs, failures, failNext } = setup()
    server.add(...[1, 2, 3].map((n) => message('c1', n)))
    seq.know('c1', 0)
    failNext(1)
    seq.receive(message('c1', 3))
    await flush()
    assert.deepEqual(failures, ['c1:HTTP down'])
    assert.deepEqual(seqs(), [])
    await seq.syncTo('c1', 3)
    assert.deepEqual(seqs(), [1, 2, 3])
  })

  it('hands out what lies past a hole the server cannot fill rather than stall', async () => {
    const { server, seq, seqs } = setup()
    server.add(message('c1', 1), message('c1', 3))
    seq.know('c1', 0)
    seq.receive(message('c1', 3))
    await flush()
    assert.deepEqual(seqs(), [1, 3])
  })

  it('syncTo fetches only when the server has more than the client', async () => {
    const { server, seq, seqs, fetches } = setup()
    server.add(message('c1', 1), message('c1', 2))
    seq.know('c1', 2)
    await seq.syncTo('c1', 2)
    assert.deepEqual(fetches, [])
    server.add(message('c1', 3))
    await seq.syncTo('c1', 3)
    assert.deepEqual(seqs(), [3])
  })

  it('starts tracking on the first list at the server lastSeq, except for what the session delivered meanwhile', () => {
    const { seq, seqs } = setup()
    seq.hold()
    seq.receive(message('c1', 9))
    seq.receive(message('c1', 10))
    assert.deepEqual(seqs(), [], 'held while the list is fetched')
    seq.adopt([{ cid: 'c1', lastSeq: 10 }, { cid: 'c2', lastSeq: 4 }], true)
    seq.release()
    assert.deepEqual(seqs(), [9, 10])
    assert.equal(seq.lastSeq('c2'), 4)
  })

  it('starts a conversation that appears on a later list at 0: all of it is new', () => {
    const { seq } = setup()
    seq.adopt([{ cid: 'c1', lastSeq: 3 }], false)
    assert.equal(seq.lastSeq('c1'), 0)
  })

  it('keeps and restores lastSeqs', () => {
    const { seq } = setup()
    seq.know('a', 3)
    seq.receive(message('b', 7))
    assert.deepEqual(seq.snapshot(), { a: 3, b: 7 })
    assert.equal(seq.know('a', 9), false, 'a known conversation keeps its position')
  })

  it('forgets a conversation mid-fetch and delivers nothing more of it', async () => {
    const { server, seq, seqs, gate } = setup()
    server.add(message('c1', 1), message('c1', 2))
    seq.know('c1', 0)
    const open = gate()
    seq.receive(message('c1', 2))
    seq.forget('c1')
    open()
    await flush()
    assert.deepEqual(seqs(), [])
    assert.equal(seq.lastSeq('c1'), undefined)
  })
})
