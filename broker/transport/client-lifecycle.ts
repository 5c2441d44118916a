/**
 * Keeps aedes 1.2's client lifecycle whole when a connection closes while its CONNECT is still
 * being handled. [IM-LIMIT-3]
 *
 * - Closed, then registered: a connection that closes between `authenticate` and
 *   `registerClient` (while aedes fetches subscriptions or stores the will) is closed first —
 *   `close()` finds nothing to unregister — and then put into `aedes.clients` for good
 *   (moscajs/aedes#928). Each kept its whole graph (client, socket, packet guard, turn writer,
 *   parser) and counted in `aedes.connectedClients`: hostile connections that close mid-CONNECT
 *   grew the heap without bound. Such a client is taken out the moment aedes registers it.
 * - Closed, then ready: a connection that closes after its CONNACK while aedes streams its queue
 *   gets `clientDisconnect` first and `clientReady` after. Whoever tracks connections by these
 *   events (presence, session records, idle release, the clients gauge) would keep it forever;
 *   they get a `clientDisconnect` again on the next turn, after every `clientReady` listener ran.
 */
import type { Aedes, Client } from 'aedes'

/** What aedes 1.2 has and its types do not declare. */
interface AedesRegistry {
  clients: Record<string, Client | undefined>
  deleteClient (clientId: string): void
}

export function keepLifecycleWhole (aedes: Aedes, onDropped: (client: Client) => void = () => {}): void {
  const registry = aedes as unknown as AedesRegistry
  aedes.on('client', (client) => {
    if (!client.closed || registry.clients[client.id] !== client) return
    // Not `unregisterClient`: that reports a disconnect of a client never reported ready.
    registry.deleteClient(client.id)
    onDropped(client)
  })
  aedes.on('clientReady', (client) => {
    if (client.closed) setImmediate(() => aedes.emit('clientDisconnect', client))
  })
}
