/**
 * Access taken away on one node is taken away on every node at once. An admin's disable, revoke or
 * delete reaches the node that served the request; the principal's other connections may be on
 * other nodes, and those nodes may hold its record in their principal cache for a few seconds.
 * So the change is published as `$SYS/{node}/im/access-revoked` (through the cluster emitter: every
 * node; clients never publish to `$SYS/…`, the ACL refuses it), and each node closes the
 * principal's connections and forgets its cached record. [IM-AUTH-6] [IM-AUTH-8]
 *
 * Without Redis (one node) the message stays on this node. While Redis is away the other nodes
 * miss it: their cache then forgets the record within its time to live, and a deleted uid is not
 * created again before that (principals/service.ts); connections there stay until they close.
 */
import type { Aedes } from 'aedes'
import type { RevokeReason } from '../principals/admin.js'

interface Revocation { uid: string, reason: RevokeReason }

const SUFFIX = '/im/access-revoked'

/**
 * Starts listening for other nodes' revocations; resolves what revokes access on every node:
 * `revoked` runs here at once, and on each other node when the message arrives.
 */
export async function shareRevocations (aedes: Aedes, revoked: (uid: string, reason: RevokeReason) => void): Promise<(uid: string, reason: RevokeReason) => void> {
  await new Promise<void>((resolve) => {
    aedes.subscribe(`$SYS/+${SUFFIX}`, (packet, done) => {
      const node = packet.topic.split('/')[1]
      const revocation = node === aedes.id ? undefined : parse(packet.payload)
      if (revocation) revoked(revocation.uid, revocation.reason)
      done()
    }, resolve)
  })
  return (uid, reason) => {
    revoked(uid, reason)
    const payload = Buffer.from(JSON.stringify({ uid, reason } satisfies Revocation))
    aedes.publish({ cmd: 'publish', topic: `$SYS/${aedes.id}${SUFFIX}`, payload, qos: 0, retain: false, dup: false }, () => {})
  }
}

function parse (payload: Buffer | string): Revocation | undefined {
  try {
    const value = JSON.parse(String(payload)) as Partial<Revocation>
    return typeof value.uid === 'string' && typeof value.reason === 'string' ? { uid: value.uid, reason: value.reason } : undefined
  } catch {
    return undefined
  }
}
