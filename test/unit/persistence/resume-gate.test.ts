import assert from 'node:assert/strict'
import { describe, it, mock } from 'node:test'
import { ResumeGate, type QueuedRef } from '../../../broker/persistence/resume-gate.js'

/** A routed message, as aedes delivers it live (lib/client.js `deliverQoS`): no message id yet. */
const packet = (n: number, extra: Partial<QueuedRef> = {}): QueuedRef => ({ brokerId: 'b', brokerCounter: n, qos: 1, ...extra })
/** A packet of the stream as aedes asks about it (lib/handlers/connect.js `emptyQueue`): numbered first. */
let nextId = 1
const sending = (p: QueuedRef): QueuedRef => ({ ...p, messageId: p.messageId ?? nextId++ })

async function * queued (packets: QueuedRef[]): AsyncGenerator<QueuedRef> { yield * packets }

describe('resume gate', () => {
  it('holds live deliveries back until the backlog is out, then sends them once, in order', async () => {
    const gate = new ResumeGate()
    const c1 = { id: 'c1', clean: false }
    const out: number[] = []
    for await (const p of gate.stream(c1, queued([packet(1), packet(2)]))) {
      assert.equal(gate.admit(c1, sending(p)), true, 'a packet of the backlog goes out when aedes writes it')
      out.push(p.brokerCounter)
      if (p.brokerCounter === 1) {
        assert.equal(gate.admit(c1, packet(3)), false, 'a live delivery waits behind the backlog')
        assert.equal(gate.admit(c1, packet(2)), false, 'the live copy of a queued packet is dropped')
      }
    }
    assert.deepEqual(out, [1, 2, 3])
    assert.equal(gate.admit(c1, packet(4)), true, 'open again once the backlog is out')
  })

  it('never refuses a queued copy, also when its live copy was asked about first (aedes clears a refused one from the queue)', async () => {
    const gate = new ResumeGate()
    const c1 = { id: 'c1', clean: false }
    const stream = gate.stream(c1, queued([packet(1), packet(2)]))
    // Readable.from reads ahead: both are handed out while aedes is still sending the first
    const first = (await stream.next()).value as QueuedRef
    const second = (await stream.next()).value as QueuedRef
    assert.equal(gate.admit(c1, sending(first)), true)
    assert.equal(gate.admit(c1, packet(2)), false, 'the live copy of a packet the stream has in hand is the duplicate')
    assert.equal(gate.admit(c1, sending(second)), true, 'the queued copy goes out')
    assert.equal((await stream.next()).done, true)
  })

  it('keeps the backlogs of two connections of one client id apart', async () => {
    const gate = new ResumeGate()
    const old = { id: 'c1', clean: false }
    const fresh = { id: 'c1', clean: false }
    const oldStream = gate.stream(old, queued([packet(1), packet(2)]))
    const oldFirst = (await oldStream.next()).value as QueuedRef
    const freshStream = gate.stream(fresh, queued([packet(1), packet(2)]))
    const freshFirst = (await freshStream.next()).value as QueuedRef
    assert.equal(gate.admit(old, sending(oldFirst)), true, 'the old connection\'s packet goes on its own connection')
    assert.equal(gate.admit(fresh, packet(3)), false, 'a live delivery to the new connection waits behind its own backlog')
    assert.equal(gate.admit(fresh, sending(freshFirst)), true)
    const freshRest: number[] = []
    for (let next = await freshStream.next(); !next.done; next = await freshStream.next()) {
      assert.equal(gate.admit(fresh, sending(next.value)), true)
      freshRest.push(next.value.brokerCounter)
    }
    assert.deepEqual(freshRest, [2, 3])
    const oldSecond = await oldStream.next()
    assert.equal(gate.admit(old, sending(oldSecond.value as QueuedRef)), true)
    assert.equal((await oldStream.next()).done, true)
  })

  it('lets a clean session\'s deliveries through: its live messages are not queued', async () => {
    const gate = new ResumeGate()
    const c1 = { id: 'c1', clean: true }
    const stream = gate.stream(c1, queued([packet(1)]))
    await stream.next()
    assert.equal(gate.admit(c1, packet(2)), true)
    assert.equal((await stream.next()).done, true)
  })

  it('ends the backlog at once when a queued packet carries retain (aedes queues a retained QoS 1 publish as it is)', async () => {
    // The gate waits (up to 5 s, a timer) for aedes to have asked about every packet it handed
    // out; with the clock stopped, a gate that waits for a packet it already let through never ends.
    mock.timers.enable({ apis: ['setTimeout'] })
    try {
      const gate = new ResumeGate()
      const c1 = { id: 'c1', clean: false }
      const out: number[] = []
      let finished = false
      const drained = (async () => {
        for await (const p of gate.stream(c1, queued([packet(1, { retain: true }), packet(2)]))) {
          assert.equal(gate.admit(c1, sending(p)), true)
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
