/** The order a queue filled through several nodes streams in (broker/persistence/queue-order.ts). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { arrivalOrder } from '../../../broker/persistence/queue-order.js'

const doc = (name: string, brokerId: string, brokerCounter: number, queuedAt?: number): { name: string, queuedAt?: number, packet: { brokerId: string, brokerCounter: number } } =>
  ({ name, ...(queuedAt === undefined ? {} : { queuedAt }), packet: { brokerId, brokerCounter } })
const names = (docs: Array<{ name: string }>): string[] => docs.map((d) => d.name)

describe('queue order across nodes', () => {
  it('interleaves the nodes\' messages as they were queued, not grouped by node', () => {
    const queued = [doc('q1', 'b2', 1, 100), doc('q2', 'b1', 7, 101), doc('q3', 'b3', 4, 102), doc('q4', 'b2', 2, 103), doc('q5', 'b1', 8, 104)]
    assert.deepEqual(names(arrivalOrder([...queued].reverse())), ['q1', 'q2', 'q3', 'q4', 'q5'])
  })

  it('keeps each node\'s messages in counter order, whatever their times say (aedes drops a lower counter after a higher one)', () => {
    // node b1's clock stepped back between its counters 5 and 6
    const queued = [doc('a5', 'b1', 5, 200), doc('x', 'b2', 1, 150), doc('a6', 'b1', 6, 100), doc('y', 'b2', 2, 250)]
    const order = arrivalOrder(queued)
    assert.deepEqual(names(order), ['a5', 'x', 'a6', 'y'], 'b1 keeps 5 before 6, in the places its messages took')
    const b1 = order.filter((d) => d.packet.brokerId === 'b1').map((d) => d.packet.brokerCounter)
    assert.deepEqual(b1, [5, 6])
  })

  it('breaks ties of one millisecond by node and counter, and puts messages without a time first', () => {
    const queued = [doc('late', 'b1', 3, 10), doc('tie-b2', 'b2', 1, 5), doc('tie-b1', 'b1', 2, 5), doc('old', 'b1', 1)]
    assert.deepEqual(names(arrivalOrder(queued)), ['old', 'tie-b1', 'tie-b2', 'late'])
  })
})
