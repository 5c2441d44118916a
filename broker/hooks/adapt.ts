/**
 * The one place where our promise-based hooks meet aedes' callback API. It also keeps each
 * connection's `ClientContext`, and counts and logs every refusal.
 */
import type { AedesOptions, AedesPublishPacket, AuthenticateError, Client } from 'aedes'
import { ERRORS, ImError } from '../../shared/errors.js'
import { isImNamespace } from '../../shared/topics.js'
import { matches } from '../acl/topic-filter.js'
import { retainedOwner, type RetainedBudget } from '../limits/retained-budget.js'
import type { SubscriptionCap } from '../limits/subscription-cap.js'
import type { Logger } from '../ops/logger.js'
import type { Metrics } from '../ops/metrics.js'
import type { ResumeGate } from '../persistence/resume-gate.js'
import { addressOf } from '../transport/client-address.js'
import { markSessionPresent } from '../transport/packet-guard.js'
import type { BrokerHooks, ClientContext } from './types.js'

/** Per-client and broker-wide ceilings the hooks apply. [IM-LIMIT-2] */
export interface AdapterLimits {
  subscriptions: SubscriptionCap
  retained: RetainedBudget
  /** does a persistent session exist for this client id (session-expiry.ts)? */
  sessionExists: (clientId: string) => Promise<boolean>
  /** an accepted CONNECT's session, before its CONNACK: a clean one discards the earlier session (session-expiry.ts) */
  sessionConnecting: (client: Client) => Promise<void>
}

type AedesHooks = Required<Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>>

/** CONNACK return codes for the errors `authenticate` may throw. [MQTT-3.2.2-3] */
const CONNACK_CODE: Partial<Record<ImError['code'], 2 | 3 | 4 | 5>> = {
  IM_ERR_IDENTIFIER_REJECTED: 2,
  IM_ERR_RATE_LIMITED: 3, // server unavailable: well-behaved clients back off and retry
  IM_ERR_BUSY: 3 // password hashing is full [IM-LIMIT-HASH]
}

export class HookAdapter {
  readonly #contexts = new WeakMap<Client, ClientContext>()
  readonly #emptyClientId = new WeakSet<Client>()
  readonly #hooks: BrokerHooks
  readonly #log: Logger
  readonly #metrics: Metrics

  readonly #resume: ResumeGate
  readonly #limits: AdapterLimits

  constructor (hooks: BrokerHooks, log: Logger, metrics: Metrics, resume: ResumeGate, limits: AdapterLimits) {
    this.#hooks = hooks
    this.#log = log
    this.#metrics = metrics
    this.#resume = resume
    this.#limits = limits
  }

  contextOf (client: Client): ClientContext | undefined {
    return this.#contexts.get(client)
  }

  aedesOptions (): AedesHooks {
    return {
      preConnect: (client, packet, done) => {
        if (packet.clientId === '') this.#emptyClientId.add(client)
        if (packet.clean !== false || packet.clientId === '') { done(null, true); return }
        this.#limits.sessionExists(packet.clientId).then((exists) => {
          if (exists) markSessionPresent(client.conn) // [MQTT-3.2.2-2], also without subscriptions
          done(null, true)
        }, (err: unknown) => done(asImError(err, this.#log), false))
      },

      authenticate: (client, username, password, done) => {
        const remoteAddress = addressOf(client.conn)
        this.#hooks.authenticate({ clientId: client.id, username, password, clean: client.clean, emptyClientId: this.#emptyClientId.has(client), ...(remoteAddress ? { remoteAddress } : {}) })
          .then((context) => {
            this.#contexts.set(client, context)
            this.#limits.sessionConnecting(client)
              .catch((err: unknown) => { this.#log.error({ err, clientId: client.id }, 'session record not written at CONNECT') })
              .finally(() => { done(null, true) })
          }, (err: unknown) => {
            const error = asImError(err, this.#log)
            this.#metrics.authFailures.inc({ reason: error.code })
            this.#log.info({ clientId: client.id, uid: username, code: error.code }, 'connect refused')
            const refusal = new Error(ERRORS[error.code].message) as AuthenticateError
            refusal.returnCode = CONNACK_CODE[error.code] ?? 5
            done(refusal, false)
          })
      },

      authorizePublish: (client, packet, done) => {
        if (client === null) { done(null); return } // the broker's own publishes
        const context = this.#contexts.get(client)
        if (!context) { done(new Error('not authenticated')); return }
        this.#hooks.authorizePublish(context, { topic: packet.topic, payload: packet.payload as Buffer, qos: packet.qos, retain: packet.retain })
          .then(() => {
            this.#metrics.messagesIn.inc()
            if (packet.retain && !isImNamespace(packet.topic)) this.#retain(client, context, packet)
            done(null)
          }, (err: unknown) => {
            const error = asImError(err, this.#log)
            this.#metrics.aclDenials.inc({ action: 'publish' })
            this.#log.warn({ clientId: client.id, uid: context.uid, topic: packet.topic, code: error.code }, 'publish refused; disconnecting client')
            done(error)
          })
      },

      authorizeSubscribe: (client, subscription, done) => {
        const context = this.#contexts.get(client)
        const cap = this.#limits.subscriptions
        if (!cap.admit(client, subscription.topic)) {
          this.#metrics.limitRefusals.inc({ limit: 'subscriptions' })
          this.#log.info({ clientId: client.id, uid: context?.uid, filter: subscription.topic }, 'subscription refused: too many subscriptions')
          done(null, null) // SUBACK 0x80 [IM-LIMIT-2]
          return
        }
        const decision = context ? this.#hooks.authorizeSubscribe(context, subscription.topic) : Promise.resolve(false)
        decision.then((allowed) => {
          if (allowed) { done(null, subscription); return }
          cap.release(client, subscription.topic)
          this.#metrics.aclDenials.inc({ action: 'subscribe' })
          this.#log.info({ clientId: client.id, uid: context?.uid, filter: subscription.topic }, 'subscription refused')
          done(null, null) // SUBACK 0x80 for this filter; the others stand
        }, (err: unknown) => done(asImError(err, this.#log)))
      },

      authorizeForward: (client, packet) => {
        const context = this.#contexts.get(client)
        if (!context || !this.#hooks.authorizeForward(context, packet.topic)) return null
        // this connection's backlog first; a queued copy is never refused (resume-gate.ts)
        if (!this.#resume.admit(client, packet)) return null
        this.#metrics.messagesOut.inc()
        return withGrantedQos(client, packet)
      }
    }
  }

  /** Keeps a retained PUBLISH only within the store's ceiling and the publisher's share of it. [IM-LIMIT-2] */
  #retain (client: Client, context: ClientContext, packet: AedesPublishPacket): void {
    const owner = retainedOwner(context, addressOf(client.conn))
    const verdict = this.#limits.retained.admit(packet.topic, (packet.payload as Buffer).length, owner)
    if (verdict === 'kept') return
    // Delivered to the subscribers online now, not kept.
    packet.retain = false
    this.#metrics.limitRefusals.inc({ limit: verdict === 'total' ? 'retained' : 'retained-per-client' })
    this.#log.warn({ clientId: client.id, uid: context.uid, topic: packet.topic }, verdict === 'total' ? 'retained message not kept: the retained store is full' : 'retained message not kept: this publisher\'s share of the retained store is full')
  }
}

/**
 * [MQTT-3.8.4-6] a message goes out at min(its QoS, the QoS granted to the subscription), and
 * [MQTT-3.3.5-1] with overlapping subscriptions at the highest QoS granted among those that match.
 * aedes 1.2 downgrades only when the filter equals the topic, so a QoS 2 message reached a `+`/`#`
 * subscription granted QoS 1 at QoS 2 (retained ones too). The packet is shared by every
 * subscriber: a downgrade returns a copy.
 */
function withGrantedQos (client: Client, packet: AedesPublishPacket): AedesPublishPacket {
  const subscriptions = (client as Client & { subscriptions?: Record<string, { qos: number }> }).subscriptions
  if (!subscriptions || packet.qos === 0) return packet
  let granted = -1
  for (const filter in subscriptions) {
    if (matches(filter, packet.topic)) granted = Math.max(granted, subscriptions[filter]?.qos ?? 0)
  }
  if (granted < 0 || granted >= packet.qos) return packet
  return { ...packet, qos: granted as 0 | 1 | 2 }
}

function asImError (err: unknown, log: Logger): ImError {
  if (err instanceof ImError) return err
  log.error({ err }, 'hook failed')
  return new ImError('IM_ERR_INTERNAL')
}
