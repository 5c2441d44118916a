/** MQTT.js helpers: connect without reconnecting, wait for messages, read CONNACK refusals. */
import { createConnection } from 'node:net'
import { MqttClient, connect, connectAsync, type IClientOptions } from 'mqtt'

export const NO_RECONNECT: IClientOptions = { reconnectPeriod: 0, connectTimeout: 5000 }

export async function connectClient (url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return await connectAsync(url, { ...NO_RECONNECT, ...options })
}

/**
 * An MQTT.js client over TCP from the local address `localAddress` (any 127.x.y.z works on
 * Linux): to the broker, a client on another address. MQTT.js cannot pick its local address.
 */
export async function connectClientFrom (port: number, localAddress: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = new MqttClient(() => createConnection({ port, host: '127.0.0.1', localAddress }), { protocolVersion: 4, ...NO_RECONNECT, ...options })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => { client.off('error', reject); resolve() })
    client.once('error', reject)
  })
  return client
}

/** Resolves with the CONNACK return code of a refused connection (0 if it was accepted). */
export async function connackCode (url: string, options: IClientOptions = {}): Promise<number> {
  return await new Promise((resolve, reject) => {
    const client = connect(url, { ...NO_RECONNECT, ...options })
    const timer = setTimeout(() => { client.end(true); reject(new Error('no CONNACK')) }, 5000)
    client.once('connect', () => { clearTimeout(timer); client.end(true); resolve(0) })
    client.once('error', (err: Error & { code?: number }) => {
      clearTimeout(timer)
      client.end(true)
      if (typeof err.code === 'number') resolve(err.code)
      else reject(err)
    })
  })
}

export interface Received { topic: string, payload: string, retain: boolean, qos: number }

/** Collects every message a client receives. */
export function collect (client: MqttClient): Received[] {
  const got: Received[] = []
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }))
  return got
}

/** Polls `check` (sync or async) until it gives something other than undefined or false. */
export async function waitFor<R> (check: () => R, timeoutMs = 5000, what = 'condition'): Promise<Exclude<Awaited<R>, undefined | false>> {
  const start = Date.now()
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value as Exclude<Awaited<R>, undefined | false>
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolves when the client is closed by the broker (or rejects after `timeoutMs`). */
export async function closedByBroker (client: MqttClient, timeoutMs = 5000): Promise<void> {
  if (!client.connected) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('broker did not close the connection')), timeoutMs)
    client.once('close', () => { clearTimeout(timer); resolve() })
  })
}

/** Granted QoS per filter, in order; 128 = refused. (MQTT.js rejects when any filter is refused; the SUBACK is on the error.) */
export async function subscribeCodes (client: MqttClient, filters: string[], qos: 0 | 1 | 2 = 1): Promise<number[]> {
  const request = Object.fromEntries(filters.map((topic) => [topic, { qos }]))
  try {
    const granted = await client.subscribeAsync(request)
    return filters.map((f) => granted.find((g) => g.topic === f)?.qos ?? -1)
  } catch (err) {
    const suback = (err as { packet?: { granted?: number[] } }).packet
    if (!suback?.granted) throw err
    return suback.granted
  }
}

/** A connection whose every message is kept, and the CONNACK's session present flag. */
export interface Session { client: MqttClient, got: Received[], sessionPresent: boolean }

/**
 * Connects with the message listener attached before CONNECT: the broker sends a persistent
 * session's queue right after CONNACK, possibly in the same TCP chunk.
 */
export async function openSession (url: string, options: IClientOptions): Promise<Session> {
  const client = connect(url, { ...NO_RECONNECT, ...options })
  const got: Received[] = []
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }))
  const sessionPresent = await new Promise<boolean>((resolve, reject) => {
    client.once('connect', (connack) => resolve(connack.sessionPresent))
    client.once('error', (err) => { client.end(true); reject(err) })
  })
  return { client, got, sessionPresent }
}
