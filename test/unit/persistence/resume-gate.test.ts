import assert from 'node:assert/strict'
import { describe, it, mock } from 'node:test'
import { ResumeGate, type QueuedRef } from '../../../broker/persistence/resume-gate.js'

const packet = (n: number, extra: Partial<QueuedRef> = {}): QueuedRef => ({ brokerId: 'b', brokerCounter: n, qos: 1, ...extra })

async function * queued (packets: QueuedRef[]): AsyncGenerator<QueuedRef> { yield * packets }

describe('resume gate', () => {
  it('holds live deliveries back until the backlog is out, then sends them once, in order', async () => {
    const gate = new ResumeGate()
    const out: number[] = []
    for await (const p of gate.stream('c1', queued([packet(1), packet(2)]), true)) {
      assert.equal(gate.admit('c1', p), true, 'a packet of the backlog goes out when aedes writes it')
      out.push(p.brokerCounter)
      if (p.brokerCounter === 1) {
        assert.equal(gate.admit('c1', packet(3)), false, 'a live delivery waits behind the backlog')
        assert.equal(gate.admit('c1', packet(2)), false, 'the live copy of a queued packet is dropped')
      }
    }
    assert.deepEqual(out, [1, 2, 3])
    assert.equal(gate.admit('c1', packet(4)), true, 'open again once the backlog is out')
  })

  it('ends the backlog at once when a queued packet carries retain (aedes queues a retained QoS 1 publish as it is)', async () => {
    // The gate waits (up to 5 s, a timer) for aedes to have asked about every packet it handed
    // out; with the clock stopped, a gate that waits for a packet it already let through never ends.
    mock.timers.enable({ apis: ['setTimeout'] })
    try {
      const gate = new ResumeGate()
      const out: number[] = []
      let finished = false
      const drained = (async () => {
        for await (const p of gate.stream('c1', queued([packet(1, { retain: true }), packet(2)]), true)) {
          assert.equal(gate.admit('c1', p), true)
          out.push(p.brokerCounter)
        }
        finished = true
      })()
      for (let i = 0; i < 20 && !finished; i++) await new Promise((resolve) => setImmediate(resolve))
      assert.equal(finished, true, 'the backlog ended without waiting for the catch-up timer')
      mock.timers.tick(5000)
      await drained
      assert.deepEqual(out, [1, 2])
    } finally {
      mock.timers.reset()
    }
  })
})
