/**
 * Prometheus metrics (prom-client). One registry per server so several servers in one process
 * (tests) keep separate counts. Names follow Prometheus conventions: `_total` for counters.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

export type Transport = 'tcp' | 'ws' | 'tls' | 'wss'

export function createMetrics () {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  /** structure → how many entries it holds, read at every scrape into `im_memory_entries` */
  const memory = new Map<string, () => number>()
  const m = {
    registry,
    connections: new Gauge({ name: 'mqtt_connections', help: 'Open MQTT connections (authenticated or not), by transport', labelNames: ['transport'] as const, registers: [registry] }),
    pendingConnects: new Gauge({ name: 'mqtt_connections_pending', help: 'Open MQTT connections that have not sent their CONNECT yet (counted against MAX_PENDING_CONNECTS)', registers: [registry] }),
    clients: new Gauge({ name: 'mqtt_clients_connected', help: 'Clients that completed CONNECT', registers: [registry] }),
    messagesIn: new Counter({ name: 'mqtt_messages_in_total', help: 'PUBLISH packets accepted from clients', registers: [registry] }),
    messagesOut: new Counter({ name: 'mqtt_messages_out_total', help: 'PUBLISH packets forwarded to clients', registers: [registry] }),
    authFailures: new Counter({ name: 'mqtt_auth_failures_total', help: 'Refused CONNECTs, by reason', labelNames: ['reason'] as const, registers: [registry] }),
    aclDenials: new Counter({ name: 'mqtt_acl_denials_total', help: 'Refused SUBSCRIBE filters and PUBLISH topics', labelNames: ['action'] as const, registers: [registry] }),
    queueDrops: new Counter({ name: 'mqtt_queue_dropped_total', help: 'Messages not kept in an offline queue, by reason (full, expired)', labelNames: ['reason'] as const, registers: [registry] }),
    protocolErrors: new Counter({ name: 'mqtt_protocol_errors_total', help: 'Connections closed for malformed or oversized packets, by reason (filter-too-many-levels: a SUBSCRIBE filter refused with 0x80, the connection kept)', labelNames: ['reason'] as const, registers: [registry] }),
    imCommands: new Counter({ name: 'im_commands_total', help: 'IM commands handled, by op and outcome (ok, error: refused with a code, internal: failed unexpectedly)', labelNames: ['op', 'outcome'] as const, registers: [registry] }),
    limitRefusals: new Counter({ name: 'mqtt_limit_refusals_total', help: 'Subscriptions refused and retained messages not kept because a ceiling was reached, by limit (subscriptions, retained, pending-connects, pending-connects-per-ip: a connection still waiting for its CONNECT closed to make room)', labelNames: ['limit'] as const, registers: [registry] }),
    retainedMessages: new Gauge({ name: 'mqtt_retained_messages', help: 'Retained messages outside im/ (counted against RETAINED_MAX_MESSAGES)', registers: [registry] }),
    retainedBytes: new Gauge({ name: 'mqtt_retained_bytes', help: 'Payload bytes of the retained messages outside im/ (counted against RETAINED_MAX_BYTES)', registers: [registry] }),
    sessionsExpired: new Counter({ name: 'mqtt_sessions_expired_total', help: 'Persistent sessions dropped after going unused for their expiry, by role', labelNames: ['role'] as const, registers: [registry] }),
    sessionsStored: new Gauge({ name: 'mqtt_sessions_stored', help: 'Persistent sessions kept (online and offline), as of the last sweep', registers: [registry] }),
    passwordHashesRunning: new Gauge({ name: 'im_password_hashes_running', help: 'argon2 computations running now (at most PASSWORD_HASH_CONCURRENCY)', registers: [registry] }),
    passwordHashesRunningMax: new Gauge({ name: 'im_password_hashes_running_max', help: 'The most argon2 computations that ran at once since the start', registers: [registry] }),
    passwordHashesWaiting: new Gauge({ name: 'im_password_hashes_waiting', help: 'argon2 computations waiting for their turn (at most PASSWORD_HASH_QUEUE)', registers: [registry] }),
    passwordHashesRefused: new Counter({ name: 'im_password_hashes_refused_total', help: 'Password and device-secret checks refused at once (IM_ERR_BUSY, CONNACK 3) because the hashing and its queue were full', registers: [registry] }),
    passwordHashes: new Counter({ name: 'im_password_hashes_total', help: 'argon2 computations (password and device-secret checks, new hashes), by kind (verify, hash)', labelNames: ['kind'] as const, registers: [registry] }),
    rateLimited: new Counter({ name: 'im_rate_limited_total', help: 'Requests, commands and CONNECTs refused by a rate limit, by limit', labelNames: ['limit'] as const, registers: [registry] }),
    clusterNodes: new Gauge({ name: 'mqtt_cluster_nodes', help: 'Broker nodes with a live lease, as this node saw them at its last beat (1 alone)', registers: [registry] }),
    clusterLeader: new Gauge({ name: 'mqtt_cluster_leader', help: '1 while this node runs the cluster timers (idle release, agent away, session expiry), else 0', registers: [registry] }),
    httpRequests: new Counter({ name: 'http_requests_total', help: 'HTTP API requests, by route and status', labelNames: ['route', 'status'] as const, registers: [registry] }),
    memoryEntries: new Gauge({
      name: 'im_memory_entries',
      help: 'Entries this process keeps in memory per visitor or principal, by structure (idle-release: visitors with a connection here; principal-cache: principals read in the last 5 s)',
      labelNames: ['structure'] as const,
      registers: [registry],
      collect () { for (const [structure, size] of memory) this.set({ structure }, size()) }
    }),
    /** where `im_memory_entries` reads each structure's size (set by the server as it builds them) */
    memory
  }
  return m
}

export type Metrics = ReturnType<typeof createMetrics>
