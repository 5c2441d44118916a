/**
 * The client library without a transport: for bundles that bring their own (the widget's minimal
 * MQTT client), so MQTT.js is never pulled in. Node, the console and tests use index.ts.
 */
export { ImClient } from './im-client.js'
export type { ImClientEvents, ImClientOptions } from './types.js'
export type { ConnectionState } from './connection.js'
export type { PendingMessage, PendingStatus } from './pending-sends.js'
export type { SyncedRange } from './sync-state.js'
export type { HistoryQuery, Fetch } from './http-api.js'
export { ImClientError, type ClientErrorCode } from './errors.js'
export { Emitter, type Listener } from './emitter.js'
export { Backoff, type BackoffOptions } from './backoff.js'
export { systemTimers, type Timers, type TimerHandle, type Random } from './timers.js'
export type { GetToken } from './tokens.js'
export {
  CONNACK, ConnectionClosedError, ConnectRefusedError, SUBACK_FAILURE,
  type ConnectResult, type QoS, type Transport, type TransportConnectOptions, type TransportEvents
} from './transport.js'
