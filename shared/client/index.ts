/**
 * The client library on MQTT.js, for Node, the agent console and the tests:
 *
 *   const client = createImClient({ mqttUrl, httpUrl, uid: 'alice', token, clientId: 'alice-phone' })
 *   client.on('message', (m) => …)
 *   await client.connect()
 *   const sent = await client.send(cid, 'Hello')
 *
 * Bundles with their own transport import core.ts instead.
 */
import { ImClient } from './im-client.js'
import { MqttJsTransport } from './mqttjs-transport.js'
import type { ImClientOptions } from './types.js'

export * from './core.js'
export { MqttJsTransport, type MqttJsExtraOptions } from './mqttjs-transport.js'

export type CreateImClientOptions = Omit<ImClientOptions, 'transport'> & { transport?: ImClientOptions['transport'] }

/** An `ImClient` on MQTT.js unless another transport is given. */
export function createImClient (options: CreateImClientOptions): ImClient {
  return new ImClient({ ...options, transport: options.transport ?? new MqttJsTransport() })
}
