/** Publishes IM events to principals' inboxes through the broker. [IM-EV-1] */
import type { Aedes } from 'aedes'
import type { PresenceState, QueueStatus, ServerEvent } from '../../shared/protocol.js'
import { topics } from '../../shared/topics.js'

export interface EventPublisher {
  /** Resolves once the broker has routed the event (offline sessions' queues written). */
  toInbox (uid: string, event: ServerEvent, qos?: 0 | 1): Promise<void>
  toInboxes (uids: Iterable<string>, event: ServerEvent, qos?: 0 | 1): Promise<void>
  presence (uid: string, state: PresenceState): Promise<void>
  /** the retained customer-service status on `im/b/support/queue` */
  queueStatus (status: QueueStatus): Promise<void>
}

export function createEventPublisher (aedes: Aedes): EventPublisher {
  const publish = async (topic: string, payload: string | Buffer, qos: 0 | 1, retain: boolean): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      aedes.publish({ cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos, retain, dup: false }, (err) => err ? reject(err) : resolve())
    })
  }
  const toInbox = async (uid: string, event: ServerEvent, qos: 0 | 1 = 1): Promise<void> => {
    await publish(topics.inbox(uid), JSON.stringify(event), qos, false)
  }
  return {
    toInbox,
    async toInboxes (uids, event, qos = 1) {
      // one buffer for every member: nothing downstream writes into a payload
      const payload = Buffer.from(JSON.stringify(event))
      await Promise.all([...new Set(uids)].map(async (uid) => { await publish(topics.inbox(uid), payload, qos, false) }))
    },
    async presence (uid, state) {
      await publish(topics.presence(uid), JSON.stringify(state), 1, true)
    },
    async queueStatus (status) {
      await publish(topics.broadcast('support/queue'), JSON.stringify(status), 1, true)
    }
  }
}
