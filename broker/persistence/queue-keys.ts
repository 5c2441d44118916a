/**
 * How aedes-persistence-level (v9) keys and encodes a client's queue, for the writes the bounded
 * queue makes itself in the turn's batch: `outgoing:{client}:{brokerId}:{counter}` → the packet,
 * `outgoing-id:{client}:{messageId}` → the packet in flight with that id (both msgpack), and our
 * own index `{client}:{brokerId}:{counter}` → enqueue time.
 */
import Packet from 'aedes-packet'
import msgpack from 'msgpack-lite'

export interface QueuedPacket {
  topic: string
  brokerId: string
  brokerCounter: number
  qos: number
  messageId?: number
  /** in flight without being stored (its queue was full when it was published) */
  unstored?: true
}

function pad (n: number): string {
  return String(n).padStart(16, '0')
}

export function indexKey (clientId: string, packet: Pick<QueuedPacket, 'brokerId' | 'brokerCounter'>): string {
  return `${encodeURIComponent(clientId)}:${packet.brokerId}:${pad(packet.brokerCounter)}`
}

/** aedes-persistence-level's key for a packet in flight (asyncPersistence.js `outgoingByIdKey`). */
export function outgoingIdKey (clientId: string, messageId: number): string {
  return `outgoing-id:${encodeURIComponent(clientId)}:${pad(messageId)}`
}

/** aedes-persistence-level's key for a queued packet (asyncPersistence.js `outgoingKey`). */
export function outgoingKey (clientId: string, packet: Pick<QueuedPacket, 'brokerId' | 'brokerCounter'>): string {
  return `outgoing:${encodeURIComponent(clientId)}:${packet.brokerId}:${pad(packet.brokerCounter)}`
}

/** A packet as aedes-persistence-level stores it when it is queued (`new Packet(packet)`, msgpack). */
export function encodeQueued (packet: object): Buffer {
  return msgpack.encode(new Packet(packet))
}

/** A packet as aedes-persistence-level stores it once it is sent with a message id (msgpack, as given). */
export function encodeSent (packet: QueuedPacket & { payload?: unknown, cmd?: string, retain?: boolean, dup?: boolean }): Buffer {
  const { cmd, brokerId, brokerCounter, topic, payload, qos, retain, dup, messageId } = packet
  return msgpack.encode({ cmd, brokerId, brokerCounter, topic, payload, qos, retain, dup, messageId })
}
