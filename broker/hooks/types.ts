/**
 * Every broker hook, typed. Hooks are small async functions that receive a narrow context (who is
 * connected), never the broker; `adapt.ts` turns them into aedes' callback style in one place.
 */
import type { Role } from '../../shared/identity.js'
import type { Grants } from '../store/ports.js'

/** Who is behind one MQTT connection, fixed at CONNECT. */
export interface ClientContext {
  readonly clientId: string
  /** absent for anonymous clients of the generic namespace */
  readonly uid?: string
  readonly role?: Role
  readonly grants: Grants
}

export interface ConnectRequest {
  clientId: string
  username?: string
  password?: Buffer
  clean: boolean
  /** the CONNECT carried a zero-length client id (aedes then makes one up) */
  emptyClientId: boolean
  /** where the connection comes from (a trusted proxy's forwarded address for WebSocket) */
  remoteAddress?: string
}

export interface PublishRequest {
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
}

/** Resolves the connection's context, or throws an `ImError` (→ CONNACK refusal). */
export type AuthenticateHook = (request: ConnectRequest) => Promise<ClientContext>
/** Resolves to let the PUBLISH through, or throws an `ImError` (→ the client is disconnected, nothing is delivered). */
export type AuthorizePublishHook = (context: ClientContext, packet: PublishRequest) => Promise<void>
/** Resolves `false` to refuse one filter (SUBACK 0x80). */
export type AuthorizeSubscribeHook = (context: ClientContext, filter: string) => Promise<boolean>
/** Synchronous, on every delivery: `false` drops the message for this client. */
export type AuthorizeForwardHook = (context: ClientContext, topic: string) => boolean

export interface BrokerHooks {
  authenticate: AuthenticateHook
  authorizePublish: AuthorizePublishHook
  authorizeSubscribe: AuthorizeSubscribeHook
  authorizeForward: AuthorizeForwardHook
}
