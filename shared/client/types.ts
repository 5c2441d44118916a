/** The options and the typed event map of `ImClient`. */
import type {
  AgentEvent, ConvEvent, EditEvent, ErrorEvent, Message, NoticeEvent, PresenceEvent, QueueEvent, ReadEvent, RecallEvent, SupportQueueEvent, TypingEvent
} from '../protocol.js'
import type { BackoffOptions } from './backoff.js'
import type { Fetch } from './http-api.js'
import type { PendingMessage } from './pending-sends.js'
import type { SyncedRange } from './sync-state.js'
import type { Random, Timers } from './timers.js'
import type { GetToken } from './tokens.js'
import type { Transport } from './transport.js'

export interface ImClientOptions {
  /** `mqtt://host:1883`, `ws://host:8080/mqtt`, `wss://…` */
  mqttUrl: string
  /** `http://host:8080`: the HTTP API's base */
  httpUrl: string
  uid: string
  /** the access token; optional when `getToken` gives it */
  token?: string
  /** gives a fresh token: called before every reconnect, and when the HTTP API answers 401 */
  getToken?: GetToken
  /** one per device or tab, stable across restarts so the persistent session is found again */
  clientId: string
  /** MQTT.js (`MqttJsTransport`) or the widget's own client */
  transport: Transport
  /** default 30 s; the broker counts the client online until 1.5 × this after a silent loss */
  keepaliveSeconds?: number
  /** default 10 s */
  connectTimeoutMs?: number
  /** default 1 s, 2 s, 4 s … 30 s */
  reconnect?: BackoffOptions
  /** the `lastSeqs()` of an earlier run: messages after them are fetched and emitted */
  lastSeqs?: Record<string, number>
  /** re-send a stored send whose echo has not come after this long (default 10 s) */
  echoTimeoutMs?: number
  /** how long `recall`/`edit` wait for their confirming event (default 10 s) */
  commandTimeoutMs?: number
  /** how long a seq gap may fill itself before HTTP is asked (default 200 ms) */
  gapGraceMs?: number
  timers?: Timers
  random?: Random
  fetch?: Fetch
  /** cmid generator (default `crypto.randomUUID`) */
  newId?: () => string
}

export interface ImClientEvents {
  connected: { sessionPresent: boolean }
  disconnected: { error?: Error, willReconnect: boolean }
  reconnecting: { attempt: number, delayMs: number, error?: Error }
  /** for good: after `close()`, or when the broker refuses the credentials and there is no `getToken` */
  closed: { error?: Error }
  /** a message, once, in seq order per conversation — live or recovered by sync */
  message: Message
  read: ReadEvent
  typing: TypingEvent
  recall: RecallEvent
  edit: EditEvent
  presence: PresenceEvent
  conv: ConvEvent
  /** customer service, to a waiting visitor: its place in the queue */
  queue: QueueEvent
  /** customer service, to a visitor: a short localized notice */
  notice: NoticeEvent
  /** customer service, to agents: the waiting queue changed */
  'support-queue': SupportQueueEvent
  /** customer service, to an agent: its own status, capacity and active chats changed */
  agent: AgentEvent
  /** an `error` event from the server (a command could not be carried out) */
  error: ErrorEvent
  /** a sync fetched messages of `cid` from `from` + 1 to `to` */
  synced: SyncedRange
  /** a sync failed; it is tried again with backoff while connected, and after every reconnect */
  'sync-failed': { cid?: string, error: Error }
  /** a send was made or changed status */
  pending: PendingMessage
  /** the server confirmed a send: its echo */
  sent: Message
  /** a send failed for good (error event, cancel, close) */
  failed: { pending: PendingMessage, error: Error }
}
