/**
 * The benchmark's MQTT clients: one set of connection options for every run, a registry so that an
 * interrupted run (SIGINT) can drop every connection at once, and a close that cannot hang.
 */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { noDelay } from '../shared/client/mqttjs-transport.js'

/** MQTT 3.1.1, clean sessions, no reconnection: a lost connection is an error, not a retry. */
export const CLIENT_OPTIONS: IClientOptions = { reconnectPeriod: 0, connectTimeout: 10_000, clean: true, protocolVersion: 4, keepalive: 60 }

const CLOSE_TIMEOUT_MS = 5000

/** Every client of a run in progress. */
const openClients = new Set<MqttClient>()

/**
 * Connects with `CLIENT_OPTIONS` (plus `options`) and registers the client; its errors are pushed
 * to `errors`. Over TCP, Nagle's algorithm is turned off, as the product's client library does: a
 * client that acknowledges and publishes would otherwise wait ~40 ms per message for a TCP ack
 * (docs/protocol.md, "Connecting"). Over WebSocket, the ws library turns it off itself.
 */
export async function connectClient (url: string, options: IClientOptions, errors: Error[]): Promise<MqttClient> {
  const client = await connectAsync(url, { ...CLIENT_OPTIONS, ...options }, false)
  noDelay(client)
  openClients.add(client)
  client.on('error', (err) => errors.push(err))
  return client
}

/**
 * Closes the connections of a run in progress without waiting (SIGINT). A broker waits for its
 * TCP clients to go before it finishes shutting down, so they go first.
 */
export function closeAllClients (): void {
  for (const client of openClients) client.end(true)
  openClients.clear()
}

/** Disconnects cleanly, or drops the connection when the broker does not answer within 5 s. */
export async function closeClients (clients: Iterable<MqttClient>): Promise<void> {
  await Promise.all([...clients].map(async (client) => {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(() => { client.end(true); resolve() }, CLOSE_TIMEOUT_MS) })
    await Promise.race([client.endAsync(), timeout])
    clearTimeout(timer)
    openClients.delete(client)
  }))
}

/** `total` shared out as evenly as possible among `parts`. */
export function split (total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0))
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
