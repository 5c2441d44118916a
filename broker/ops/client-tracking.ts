/**
 * What the broker hears of its MQTT clients: the clients gauge and the logs of connects,
 * disconnects and errors, with the lifecycle kept whole (client-lifecycle.ts); and closing the
 * connections of a principal that lost its access.
 */
import type { Aedes, Client } from 'aedes'
import type { RevokeReason } from '../principals/admin.js'
import { keepLifecycleWhole } from '../transport/client-lifecycle.js'
import type { Logger } from './logger.js'
import type { Metrics } from './metrics.js'

export function trackClients (aedes: Aedes, metrics: Metrics, log: Logger): void {
  const clientLog = log.child({ part: 'mqtt' })
  // aedes reports a disconnect also of a client that closed before its CONNACK (registered, never
  // ready): only the clients counted in are counted out, so the gauge never goes below zero.
  const counted = new WeakSet<Client>()
  aedes.on('clientReady', (client) => { counted.add(client); metrics.clients.inc(); clientLog.debug({ clientId: client.id }, 'client connected') })
  aedes.on('clientDisconnect', (client) => {
    if (counted.delete(client)) metrics.clients.dec()
    clientLog.debug({ clientId: client.id }, 'client disconnected')
  })
  keepLifecycleWhole(aedes, (client) => clientLog.debug({ clientId: client.id }, 'connection closed during CONNECT; not kept'))
  aedes.on('clientError', (client, err) => clientLog.debug({ clientId: client.id, err: err.message }, 'client error'))
  aedes.on('connectionError', (_client, err) => clientLog.debug({ err: err.message }, 'connection error before CONNECT'))
  // aedes reports here what fails outside any client (a will sweep, a subscription lookup);
  // unheard, the error event would end the process. (Its types do not declare this event.)
  const events: NodeJS.EventEmitter = aedes
  events.on('error', (err: Error) => log.error({ err }, 'broker error'))
}

/** Closes every live connection of `uid` on this node: it lost its access. [IM-AUTH-6] */
export function closeConnectionsOf (aedes: Aedes, uid: string, uidOf: (client: Client) => string | undefined, reason: RevokeReason, log: Logger): void {
  // aedes keeps its connected clients by id; its types do not declare the map.
  for (const client of Object.values((aedes as unknown as { clients: Record<string, Client> }).clients)) {
    if (uidOf(client) !== uid) continue
    log.info({ clientId: client.id, uid, reason }, 'closing the connection of a principal that lost its access')
    client.close()
  }
}
