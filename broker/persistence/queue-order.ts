/**
 * The order a queue stored by several broker nodes streams in.
 *
 * Arrival order across nodes is the enqueue time (`queuedAt`, kept non-decreasing per node), so a
 * queue filled through three nodes comes back interleaved as it was filled, and a publisher that
 * moved from one node to another keeps its order [MQTT-4.6.0-6]. But aedes drops, per client, a
 * message whose counter is below one already delivered from the same node (lib/client.js
 * `dedupe`): among one node's messages the order must be its counter order, whatever the clock
 * said. So the messages are put in time order, then each node's are put back in counter order in
 * the places that node's messages took.
 */
export interface Queued { queuedAt?: number, packet: { brokerId?: string, brokerCounter?: number } }

export function arrivalOrder<T extends Queued> (docs: readonly T[]): T[] {
  const byTime = [...docs].sort((a, b) => (a.queuedAt ?? 0) - (b.queuedAt ?? 0) || compareNode(a, b))
  const perNode = new Map<string, T[]>()
  for (const doc of byTime) {
    const node = doc.packet.brokerId ?? ''
    const list = perNode.get(node) ?? []
    list.push(doc)
    perNode.set(node, list)
  }
  for (const list of perNode.values()) list.sort(compareNode)
  const next = new Map<string, number>()
  return byTime.map((doc) => {
    const node = doc.packet.brokerId ?? ''
    const i = next.get(node) ?? 0
    next.set(node, i + 1)
    return perNode.get(node)![i]!
  })
}

function compareNode (a: Queued, b: Queued): number {
  const x = a.packet.brokerId ?? ''
  const y = b.packet.brokerId ?? ''
  return x < y ? -1 : x > y ? 1 : (a.packet.brokerCounter ?? 0) - (b.packet.brokerCounter ?? 0)
}
