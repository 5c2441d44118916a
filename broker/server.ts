/**
 * `startServer(options)` wires the broker together. Infrastructure (config, logger, clock) comes
 * in from outside; stores and listeners are built here from the frozen config, in this order:
 *
 *   store → auth → ACL → hooks → aedes → listeners (MQTT, MQTTS, HTTP+WS, HTTPS+WSS)
 *
 * The path of a chat message: socket → transport/packet-guard → aedes → hooks/authorize (ACL) →
 * im/outbox (parse, dispatch) → im/messages (member? → store with next seq → fan out to every
 * member's inbox) → PUBACK. Any other message: socket → packet-guard → aedes → hooks/adapt (authorize) →
 * aedes routing → persistence/bounded-queue (offline) → hooks/adapt (authorizeForward) → socket;
 * the publisher's PUBACK comes last (persistence/ack-after-store).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import type { Server as NetServer } from 'node:net'
import { Aedes } from 'aedes'
import type { FastifyInstance } from 'fastify'
import { isImNamespace, parseImTopic } from '../shared/topics.js'
import { Acl } from './acl/acl.js'
import { GenericAcl } from './acl/generic-rules.js'
import { isValidFilter } from './acl/topic-filter.js'
import { resolveJwtSecret } from './auth/jwt-secret.js'
import { HashGate } from './auth/hash-gate.js'
import { PasswordHasher } from './auth/passwords.js'
import { TokenService } from './auth/tokens.js'
import { shareRevocations } from './cluster/access-revocations.js'
import { Membership, presenceDirectory } from './cluster/membership.js'
import { SubscriptionResync } from './cluster/subscription-resync.js'
import { openClusterEmitter, type ClusterEmitter } from './cluster/emitter.js'
import { insecureLinks } from './config/link-security.js'
import { publicUrls, type Ports } from './config/public-urls.js'
import type { Config } from './config/schema.js'
import { HookAdapter } from './hooks/adapt.js'
import { createAuthenticate } from './hooks/authenticate.js'
import { createAuthorizeForward, createAuthorizePublish, createAuthorizeSubscribe } from './hooks/authorize.js'
import { buildHttpApp, type HttpDeps } from './http/app.js'
import { createMetricsListener } from './http/metrics-listener.js'
import { createRateLimits } from './limits/rate-limits.js'
import { RetainedBudget } from './limits/retained-budget.js'
import { SubscriptionCap } from './limits/subscription-cap.js'
import { closeConnectionsOf, trackClients } from './ops/client-tracking.js'
import { closeAedes, closeHttp, closeNet, listen, listenHttp } from './lib/listening.js'
import { createLogger, type Logger } from './ops/logger.js'
import { LOW_FILE_LIMIT, defaultPendingConnects, openFileLimit } from './ops/file-limit.js'
import { createMetrics, type Metrics } from './ops/metrics.js'
import { ackAfterStore } from './persistence/ack-after-store.js'
import { ResumeGate, type QueuedRef } from './persistence/resume-gate.js'
import { SessionExpiry } from './persistence/session-expiry.js'
import { createCommandParser } from './im/commands.js'
import { ConversationService } from './im/conversations.js'
import { createEventPublisher } from './im/events.js'
import { MessageService } from './im/messages.js'
import { Outbox } from './im/outbox.js'
import { PresenceTracker } from './im/presence.js'
import { ReceiptService } from './im/receipts.js'
import { Announcer } from './support/announcer.js'
import { parseBusinessHours } from './support/business-hours.js'
import { SupportDesk } from './support/desk.js'
import { IdleRelease } from './support/idle-release.js'
import { PrincipalAdmin, type RevokeReason } from './principals/admin.js'
import { CachedPrincipalStore } from './principals/cached-store.js'
import { PrincipalService } from './principals/service.js'
import { openBackend, type MqttPersistence } from './store/backend.js'
import type { MessageStore } from './store/ports.js'
import { parseTrustProxy } from './transport/client-address.js'
import { PendingConnects } from './transport/pending-connects.js'
import { createConnectionHandler, listenMqtt, webSocketUpgrade, type ConnectionHandler } from './transport/mqtt-listeners.js'

/** Principals are read on every request and CONNECT; another node's change shows within ttlMs. */
const PRINCIPAL_CACHE = { ttlMs: 5000, maxEntries: 10_000 }
/** A deleted uid is created again only once no node can cache its old record (a read in flight included). [IM-AUTH-8] */
const RECREATE_AFTER_MS = PRINCIPAL_CACHE.ttlMs + 1000

export interface ServerOptions {
  config: Config
  log?: Logger
  now?: () => number
  /** For tests: delays and faults a test cannot cause for real. Unset, nothing is wrapped. */
  intercept?: Intercept
}

/**
 * For tests: delays and faults a test cannot cause for real (a slow disk under one write, a queue
 * that streams slowly). Each function receives the real part and returns what the broker uses
 * in its place.
 */
export interface Intercept {
  /** the message store every IM service writes to and reads from */
  messages?: (store: MessageStore) => MessageStore
  /** a session's stored queue as it is read back on reconnect, before the resume gate orders it */
  queue?: (clientId: string, stored: AsyncIterable<QueuedRef>) => AsyncIterable<QueuedRef>
}

/** `metrics`: the metrics listener (METRICS_PORT on METRICS_HOST, loopback by default) */
export type { Ports }

export interface ImServer {
  readonly config: Config
  readonly ports: Ports
  readonly urls: Readonly<Record<string, string>>
  readonly aedes: Aedes
  readonly principals: PrincipalService
  readonly metrics: Metrics
  readonly log: Logger
  close (): Promise<void>
}

export async function startServer ({ config, log = createLogger(config.LOG_LEVEL), now = Date.now, intercept = {} }: ServerOptions): Promise<ImServer> {
  const metrics = createMetrics()
  const generic = loadGenericAcl(config)
  for (const { setting, message } of insecureLinks(config)) log.warn({ setting }, message)
  const backend = await openBackend(config)
  // Shutdown runs in this order: stop accepting → finish IM commands under way, stop presence
  // announcements → aedes closes its clients (wills, sessions saved) → drop connections that never
  // finished CONNECT → close HTTP → close the cluster emitter → close the store.
  const listeners: NetServer[] = []
  const apps: FastifyInstance[] = []
  let cluster: ClusterEmitter | undefined
  let aedes: Aedes | undefined
  let handle: ConnectionHandler | undefined
  let sessions: SessionExpiry | undefined
  /** IM parts that finish their work before the broker closes (commands in flight, presence). */
  const quiesce: Array<() => Promise<void>> = []
  const shutdown = async (): Promise<void> => {
    const stopped = listeners.map(closeNet)
    await Promise.all(quiesce.map(async (step) => { await step() }))
    if (aedes) await closeAedes(aedes)
    await sessions?.stop() // the records of the connections aedes just closed are written
    handle?.destroyAll()
    await Promise.all([...stopped, ...apps.map(closeHttp)])
    await cluster?.close()
    await backend.close()
  }
  try {
    const emitter = await openClusterEmitter(config, log.child({ part: 'cluster' }))
    cluster = emitter
    const principalCache = new CachedPrincipalStore(backend.principals, PRINCIPAL_CACHE)
    metrics.memory.set('principal-cache', () => principalCache.size)
    const stores = { principals: principalCache, sites: backend.sites }
    const tokens = new TokenService(resolveJwtSecret(config.JWT_SECRET, config.DATA_DIR), config.TOKEN_TTL_SECONDS, now)
    const limits = createRateLimits(config, (limit) => metrics.rateLimited.inc({ limit }), backend.attempts)
    const passwords = new PasswordHasher({ onCompute: (kind) => metrics.passwordHashes.inc({ kind }), gate: hashGate(config, metrics) })
    const principals = new PrincipalService({ ...stores, tokens, passwords, visitorRenewSeconds: config.VISITOR_RENEW_SECONDS, admitNewVisitor: limits.newVisitor, now, recreateAfterMs: RECREATE_AFTER_MS, beforeRecreate: async (uid) => { await revoked.forget?.(uid) } })
    // Bound late: closing a principal's connections needs the broker, and letting go of a deleted
    // one's conversations and sessions the IM services, built further down.
    const revoked: { close?: (uid: string, reason: RevokeReason) => void, forget?: (uid: string) => Promise<void> } = {}
    const admin = new PrincipalAdmin({ ...stores, now, onAccessRevoked: (uid, reason) => revoked.close?.(uid, reason), onDeleted: async (uid) => { await revoked.forget?.(uid) } })
    if (config.ADMIN_PASSWORD) await principals.ensureAdmin(config.ADMIN_PASSWORD)
    if ((await stores.sites.list()).length === 0) {
      const site = await principals.createSite('default')
      log.info({ siteKey: site.siteKey }, 'created the first site, "default"')
    }

    const acl = new Acl(generic)
    const retained = new RetainedBudget({
      maxMessages: config.RETAINED_MAX_MESSAGES,
      maxBytes: config.RETAINED_MAX_BYTES,
      perOwner: { messages: config.RETAINED_MAX_PER_CLIENT, bytes: config.RETAINED_MAX_BYTES_PER_CLIENT },
      onUsage: ({ messages, bytes }) => { metrics.retainedMessages.set(messages); metrics.retainedBytes.set(bytes) }
    })
    const resume = intercept.queue ? readQueueThrough(new ResumeGate(), intercept.queue) : new ResumeGate()
    // The outbox needs the broker to publish events, and the broker needs the hook: bound late.
    const late: { outbox?: Outbox } = {}
    const adapter = new HookAdapter({
      authenticate: createAuthenticate({ principals, allowAnonymous: config.ANONYMOUS_NAMESPACE !== '', admitConnect: limits.connect, admitSecret: async (ip) => await limits.login.admitAddress(ip) }),
      authorizePublish: createAuthorizePublish(acl, async (caller, payload) => { await late.outbox?.handle(caller, payload) }),
      authorizeSubscribe: createAuthorizeSubscribe(acl),
      authorizeForward: createAuthorizeForward(acl)
    }, log, metrics, resume, {
      subscriptions: new SubscriptionCap(config.MAX_SUBSCRIPTIONS_PER_CLIENT),
      retained,
      sessionExists: async (clientId) => await sessions?.exists(clientId) ?? false,
      sessionConnecting: async (client) => { await sessions?.connecting(client) }
    })

    const queueLog = log.child({ part: 'queue' })
    const persistence = backend.mqttPersistence({
      resume,
      maxMessages: config.QUEUE_MAX_MESSAGES,
      maxAgeMs: config.QUEUE_MAX_AGE_SECONDS * 1000,
      now,
      onDrop: (clientId, reason, topic) => {
        metrics.queueDrops.inc({ reason })
        queueLog.warn({ clientId, reason, topic }, 'offline message dropped; the client recovers it from history')
      }
    })
    const broker = await Aedes.createBroker({
      // Queued messages are keyed by broker id then counter; a time-ordered id keeps a queue in
      // order across restarts. [IM-Q-4]
      // Unique per node and start: a node closes its connection of a client id that connects to
      // another node when `$SYS/{other id}/new/clients` names it (aedes.js `closeSameClients`).
      id: `b${String(now()).padStart(15, '0')}${randomBytes(3).toString('hex')}`,
      mq: emitter.mq, // undefined: aedes' in-memory default (one node)
      persistence,
      connectTimeout: config.CONNECT_TIMEOUT_MS,
      maxTopicLevels: config.MAX_TOPIC_LEVELS, // the guard refuses deeper SUBSCRIBE filters first (transport/deep-filters.ts)
      ...adapter.aedesOptions()
    })
    aedes = broker
    if (emitter.mq && 'storedSubscriptions' in persistence) {
      // after a Redis outage, the subscriptions stored meanwhile reach every node's queueing index
      const mq = emitter.mq
      const resync = new SubscriptionResync({ aedes: broker, stored: () => persistence.storedSubscriptions(), emitHere: (packet) => { mq.emitHere(packet) }, log: log.child({ part: 'cluster' }) })
      await resync.start()
      emitter.onBack(() => { void resync.redisBack() })
    }
    await countRetained(persistence, retained)
    // PUBACK only once the offline queues hold the message [IM-Q-5]; IM commands are not routed
    ackAfterStore(broker, (topic) => topic.endsWith('/out') && parseImTopic(topic)?.kind === 'outbox')
    trackClients(broker, metrics, log)
    // on every node: the principal's connections closed, its cached record forgotten [IM-AUTH-6]
    revoked.close = await shareRevocations(broker, (uid, reason) => {
      stores.principals.forget(uid)
      closeConnectionsOf(broker, uid, (client) => adapter.contextOf(client)?.uid, reason, log)
    })

    const imStores = { conversations: backend.conversations, messages: intercept.messages?.(backend.messages) ?? backend.messages }
    const events = createEventPublisher(broker)
    // The store itself, not the cache: an invitee's record is read alike whether it exists or not. [IM-CONV-2]
    const conversations = new ConversationService({
      conversations: imStores.conversations, messages: imStores.messages, principals: backend.principals, events, now,
      limits: { maxGroupMembers: config.MAX_GROUP_MEMBERS, maxPendingGroups: config.MAX_PENDING_GROUPS, maxPendingPerInviter: config.MAX_PENDING_PER_INVITER, admitCreate: limits.newConversation },
      onLostEvent: (err) => log.warn({ err }, 'an invitation event could not be published; the invitee sees it on its next sync')
    })
    const receipts = new ReceiptService({ conversations, store: imStores.conversations, events, now })
    // `desk` is made below; a visitor's first words rank its chat there [IM-SUPPORT-RANK]
    const messages = new MessageService({ conversations, messages: imStores.messages, events, now, recallWindowMs: config.RECALL_WINDOW_SECONDS * 1000, onVisitorWrote: async (cid, at) => { await desk.visitorWrote(cid, at) } })
    const supportStore = backend.support
    const announcer = new Announcer({ conversations: imStores.conversations, support: supportStore, principals: stores.principals, events, now })
    const desk = new SupportDesk({ conversations: imStores.conversations, support: supportStore, principals: stores.principals, events, announcer, defaultCapacity: config.AGENT_CAPACITY, isOpen: parseBusinessHours(config.BUSINESS_HOURS, config.BUSINESS_TIMEZONE), now })
    late.outbox = new Outbox({
      parse: createCommandParser({ commandMaxBytes: config.COMMAND_MAX_BYTES, commandMaxDepth: config.COMMAND_MAX_DEPTH, messageMaxChars: config.MESSAGE_MAX_CHARS }),
      messages, receipts, desk, events, log: log.child({ part: 'im' }), admit: limits.command,
      onCommand: (op, outcome) => metrics.imCommands.inc({ op, outcome })
    })
    // Several nodes: leases in the store say which are alive; the oldest runs the timers.
    const membership = new Membership({
      store: backend.nodes, node: broker.id, leaseMs: config.NODE_LEASE_MS, alone: emitter.kind === 'single', now, log: log.child({ part: 'cluster' }),
      onBeat: (nodes, leader) => { metrics.clusterNodes.set(nodes); metrics.clusterLeader.set(leader ? 1 : 0) },
      onNodeDead: async (node) => {
        presence.nodeGone(await backend.nodes.presentOn(node))
        await sessions?.nodeGone(node)
      }
    })
    const presence = new PresenceTracker({
      aedes: broker, retained: persistence, uidOf: (client) => adapter.contextOf(client)?.uid, conversations: imStores.conversations, events, log, now,
      ...(membership.alone ? {} : { directory: presenceDirectory(backend.nodes, membership) })
    })
    await membership.start()
    await presence.resetStale()
    sessions = new SessionExpiry({
      aedes: broker, store: backend.sessions, persistence,
      whoIs: (client) => adapter.contextOf(client), online: async (uid) => await presence.online(uid),
      node: broker.id, isLive: (node) => membership.isLive(node), sweepsHere: () => membership.isLeader(),
      expiryMs: (role) => (role === 'visitor' ? config.SESSION_EXPIRY_VISITOR_SECONDS : config.SESSION_EXPIRY_SECONDS) * 1000,
      sweepMs: config.SESSION_SWEEP_SECONDS * 1000, now, log: log.child({ part: 'sessions' }),
      onExpired: (role) => metrics.sessionsExpired.inc({ role }),
      onSwept: (kept) => metrics.sessionsStored.set(kept)
    })
    await sessions.start()
    revoked.forget = async (uid) => {
      // again before the uid is created anew: a connection made with an old token while it was
      // being deleted (a node's cache not yet told) is gone before the new principal exists
      revoked.close?.(uid, 'deleted')
      await desk.agentDeleted(uid)
      await conversations.leaveAll(uid)
      await sessions?.dropSessionsOf(uid)
    }
    const idle = new IdleRelease({
      aedes: broker, whoIs: (client) => adapter.contextOf(client), isOnline: (uid) => presence.isOnline(uid),
      online: async (uid) => await presence.online(uid), sweepsHere: () => membership.isLeader(),
      desk, conversations: imStores.conversations, messages: imStores.messages, support: supportStore,
      log: log.child({ part: 'support' }), now,
      idleReleaseMs: config.IDLE_RELEASE_MS, silenceReleaseMs: config.SILENCE_RELEASE_MS,
      awayGraceMs: config.AGENT_AWAY_GRACE_MS, requeueMs: config.AGENT_REQUEUE_MS
    })
    metrics.memory.set('idle-release', () => idle.trackedVisitors)
    await idle.start()
    await desk.rebalance()
    quiesce.push(async () => { await idle.stop() }, async () => { await presence.stop() }, async () => { await late.outbox?.drain() }, async () => { await membership.stop() })

    const trustProxy = parseTrustProxy(config.TRUST_PROXY)
    const transportLog = log.child({ part: 'transport' })
    const fileLimit = openFileLimit()
    if (fileLimit !== undefined && fileLimit < LOW_FILE_LIMIT) transportLog.warn({ openFileLimit: fileLimit }, `the open-file limit allows at most ${fileLimit} connections; raise it (ulimit -n, systemd LimitNOFILE) — see docs/operations.md`)
    const pending = new PendingConnects({
      perAddress: config.MAX_PENDING_CONNECTS_PER_IP,
      total: config.MAX_PENDING_CONNECTS || defaultPendingConnects(fileLimit),
      onEvict: (remote, reason) => {
        metrics.limitRefusals.inc({ limit: reason === 'total' ? 'pending-connects' : 'pending-connects-per-ip' })
        transportLog.debug({ remote, reason }, 'closed a connection still waiting for its CONNECT, to make room')
      }
    })
    const handler = createConnectionHandler(broker, { maxPacketBytes: config.MAX_PACKET_BYTES, maxTopicLevels: config.MAX_TOPIC_LEVELS }, transportLog, metrics, pending, trustProxy)
    handle = handler
    const tls = loadTls(config)
    const started = Date.now()
    const httpDeps: HttpDeps = {
      principals, admin, stores, metrics, log, limits,
      im: { conversations, messages: imStores.messages },
      support: { desk, store: supportStore, conversations: imStores.conversations },
      health: async () => {
        const [store, routing] = await Promise.all([backend.health(), emitter.health()])
        return { ok: !broker.closed && store.ok && routing.ok, uptimeSeconds: Math.round((Date.now() - started) / 1000), clients: broker.connectedClients, store, cluster: { ...routing, node: membership.node, nodes: membership.liveCount, leader: membership.isLeader() } }
      }
    }
    const httpOptions = { maxHeaderBytes: config.HTTP_MAX_HEADER_BYTES, maxBodyBytes: config.HTTP_MAX_BODY_BYTES, corsOrigins: config.CORS_ORIGINS, trustProxy, ...(config.METRICS_TOKEN ? { metricsToken: config.METRICS_TOKEN } : {}) }
    // A WebSocket frame carries one MQTT packet or part of one; allow a little framing slack.
    const wsMax = config.MAX_PACKET_BYTES + 1024

    const mqtt = listenMqtt(handler)
    listeners.push(mqtt)
    const metricsListener = createMetricsListener({ metrics, health: httpDeps.health, ...(config.METRICS_TOKEN ? { token: config.METRICS_TOKEN } : {}) })
    listeners.push(metricsListener)
    const http = await buildHttpApp(httpDeps, { ...httpOptions, onUpgrade: webSocketUpgrade(handler, wsMax, 'ws') })
    apps.push(http)
    const ports: Ports = {
      mqtt: await listen(mqtt, config.MQTT_PORT, config.HOST),
      http: await listenHttp(http, config.HTTP_PORT, config.HOST),
      metrics: await listen(metricsListener, config.METRICS_PORT, config.METRICS_HOST)
    }
    if (tls) {
      const mqtts = listenMqtt(handler, tls, config.CONNECT_TIMEOUT_MS)
      listeners.push(mqtts)
      const https = await buildHttpApp(httpDeps, { ...httpOptions, tls, onUpgrade: webSocketUpgrade(handler, wsMax, 'wss') })
      apps.push(https)
      ports.mqtts = await listen(mqtts, config.MQTTS_PORT, config.HOST)
      ports.https = await listenHttp(https, config.HTTPS_PORT, config.HOST)
    }

    const urls = publicUrls(config, ports)
    let closing: Promise<void> | undefined
    return {
      config, ports, urls, aedes: broker, principals, metrics, log,
      close: () => (closing ??= shutdown())
    }
  } catch (err) {
    await shutdown().catch(() => undefined)
    throw err
  }
}

/** At most PASSWORD_HASH_CONCURRENCY argon2 computations at once (half the cores by default), PASSWORD_HASH_QUEUE waiting. [IM-LIMIT-HASH] */
function hashGate (config: Config, metrics: Metrics): HashGate {
  let most = 0
  return new HashGate({
    concurrency: config.PASSWORD_HASH_CONCURRENCY || Math.max(1, Math.floor(availableParallelism() / 2)),
    queue: config.PASSWORD_HASH_QUEUE,
    onChange: (running, waiting) => {
      metrics.passwordHashesRunning.set(running)
      metrics.passwordHashesWaiting.set(waiting)
      if (running > most) metrics.passwordHashesRunningMax.set(most = running)
    },
    onRefuse: () => metrics.passwordHashesRefused.inc()
  })
}

/** For tests: the gate streams each stored queue as `queue` hands it on. */
function readQueueThrough (gate: ResumeGate, queue: NonNullable<Intercept['queue']>): ResumeGate {
  const stream = gate.stream.bind(gate)
  gate.stream = (client, stored) => stream(client, queue(client.id, stored))
  return gate
}

/** Counts the retained messages outside `im/` already stored, against RETAINED_MAX_*. [IM-LIMIT-2] */
async function countRetained (persistence: MqttPersistence, budget: RetainedBudget): Promise<void> {
  for await (const packet of persistence.retainedOutside('im')) {
    if (!isImNamespace(packet.topic)) budget.load(packet.topic, packet.payload.length)
  }
}

function loadGenericAcl (config: Config): GenericAcl {
  const base = config.ACL_FILE ? GenericAcl.parse(readFileSync(config.ACL_FILE, 'utf8'), config.ACL_FILE) : GenericAcl.empty()
  const namespace = config.ANONYMOUS_NAMESPACE.split(',').map((f) => f.trim()).filter((f) => f !== '')
  const bad = namespace.filter((f) => !isValidFilter(f))
  if (bad.length > 0) throw new Error(`ANONYMOUS_NAMESPACE: invalid topic filter(s): ${bad.join(', ')}`)
  return base.withAnonymousNamespace(namespace)
}

function loadTls (config: Config): { key: Buffer, cert: Buffer } | undefined {
  if (!config.TLS_KEY_FILE || !config.TLS_CERT_FILE) return undefined
  return { key: readFileSync(config.TLS_KEY_FILE), cert: readFileSync(config.TLS_CERT_FILE) }
}
