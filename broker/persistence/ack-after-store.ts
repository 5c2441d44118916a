/**
 * A client's QoS 1 PUBLISH is acknowledged only once it is stored. [IM-Q-5]
 *
 * aedes 1.x answers a QoS 1 PUBLISH with PUBACK first and publishes it afterwards
 * (lib/handlers/publish.js, `enqueuePublish`); publishing is when offline sessions' queues are
 * written. A broker killed in between has acknowledged a message that no queue holds: the
 * publisher will not send it again and the offline subscriber never receives it.
 *
 * So the publish moves in front of the PUBACK. aedes asks `authorizePublish` before it answers;
 * once our hook allowed the packet, the wrapper below publishes it (retained message stored,
 * offline queues written, online subscribers served) and only then lets aedes go on. The publish
 * aedes starts next for that same packet object is skipped. QoS 2 needs nothing (aedes stores it
 * before PUBREC), QoS 0 has no acknowledgement, and the broker's own publishes are untouched.
 */
import type { Aedes, Client, PublishPacket } from 'aedes'

type Done = (error?: Error | null) => void
/** aedes' own call shape (`broker.publish(packet, client, done)`); its types only show `(packet, done)`. */
type Publish = (packet: PublishPacket, client: Client | null | Done, done?: Done) => void

export function ackAfterStore (aedes: Aedes, consumed: (topic: string) => boolean = () => false): void {
  const authorize = aedes.authorizePublish
  const publish = (aedes.publish as unknown as Publish).bind(aedes)
  const done = new WeakSet<PublishPacket>()

  aedes.authorizePublish = (client, packet, callback) => {
    authorize.call(aedes, client, packet, (err) => {
      if (err || client === null) { callback(err); return }
      // A command on an outbox was carried out by the hook itself (stored, fanned out): nobody
      // may subscribe to an outbox, so routing it, queueing it or keeping it retained would be
      // work for nothing. It is acknowledged as it is. [IM-PERF-5]
      if (consumed(packet.topic)) {
        done.add(packet)
        aedes.emit('publish', packet, client) // still the client's traffic (idle release listens)
        callback(null)
        return
      }
      if (packet.qos !== 1) { callback(err); return }
      publish(packet, client, (error) => {
        if (error) { callback(error); return } // no PUBACK: the client sends it again
        done.add(packet)
        callback(null)
      })
    })
  }

  const skipPublished: Publish = (packet, client, callback) => {
    if (typeof client !== 'function' && done.delete(packet)) {
      if (callback) setImmediate(callback, null)
      return
    }
    publish(packet, client, callback)
  }
  ;(aedes as unknown as { publish: Publish }).publish = skipPublished
}
