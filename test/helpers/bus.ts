/** The broker's own message bus, seen from a test: publish as the server, watch what gets published. */
import type { AedesPublishPacket } from 'aedes'
import type { TestBroker } from './broker.js'

export function serverPublish (broker: TestBroker, topic: string, payload: string, { qos = 1, retain = false }: { qos?: 0 | 1 | 2, retain?: boolean } = {}): Promise<void> {
  return new Promise((resolve, reject) => broker.server.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false }, (err) => err ? reject(err) : resolve()))
}

/** Sees what reaches aedes' message bus on `filter`, whoever subscribes: proof a message was (not) published. */
export async function busSpy (broker: TestBroker, filter: string): Promise<{ topics: string[], stop: () => Promise<void> }> {
  const topics: string[] = []
  const deliver = (packet: AedesPublishPacket, cb: () => void): void => { topics.push(packet.topic); cb() }
  await new Promise<void>((resolve) => broker.server.aedes.subscribe(filter, deliver, resolve))
  return { topics, stop: () => new Promise<void>((resolve) => broker.server.aedes.unsubscribe(filter, deliver, resolve)) }
}
