/** Raw MQTT bytes over a plain socket or a WebSocket, for the malformed-input tests. */
import { connect as netConnect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import WebSocket from 'ws'
import { encodeRemainingLength } from '../../shared/client/mini-mqtt/packets.js'

export function packet (p: Record<string, unknown>): Buffer {
  return mqttPacket.generate(p as unknown as mqttPacket.Packet)
}

export const CONNECT = (clientId: string, extra: Record<string, unknown> = {}): Buffer =>
  packet({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30, ...extra })

/** A PUBLISH with an arbitrary (possibly invalid) topic byte string. */
export function rawPublish (topic: Buffer, payload: Buffer, qos = 0, messageId = 1): Buffer {
  const idBytes = qos > 0 ? Buffer.from([messageId >> 8, messageId & 0xff]) : Buffer.alloc(0)
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, idBytes, payload])
  return Buffer.concat([Buffer.from([0x30 | (qos << 1)]), remainingLength(body.length), body])
}

export function remainingLength (n: number): Buffer {
  return Buffer.from(encodeRemainingLength(n))
}

export const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff])

/** A length-prefixed MQTT string (or binary field) [MQTT-1.5.3]. */
export const mqttString = (s: string | Buffer): Buffer => {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
  return Buffer.concat([u16(bytes.length), bytes])
}

/** A packet from its first byte and body parts; the remaining length is computed. */
export const frame = (first: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts)
  return Buffer.concat([Buffer.from([first]), remainingLength(body.length), body])
}

/** A raw TCP connection that records what comes back and when it is closed. */
export interface RawConnection {
  write (bytes: Buffer): void
  received (): Buffer
  /** what came back, one entry per socket 'data' event (TCP) or per message (WebSocket) */
  chunks (): Buffer[]
  closed: Promise<void>
  isClosed (): boolean
  destroy (): void
}

export async function rawTcp (port: number): Promise<RawConnection> {
  const socket: Socket = netConnect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  return track(
    (bytes) => socket.write(bytes),
    (onData, onClose) => { socket.on('data', onData); socket.on('close', onClose); socket.on('error', () => undefined) },
    () => socket.destroy()
  )
}

export async function rawWebSocket (url: string): Promise<RawConnection> {
  const ws = new WebSocket(url, 'mqtt')
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return track(
    (bytes) => ws.send(bytes),
    (onData, onClose) => { ws.on('message', (data: Buffer) => onData(data)); ws.on('close', onClose); ws.on('error', () => undefined) },
    () => ws.terminate()
  )
}

function track (write: (b: Buffer) => void, listen: (onData: (b: Buffer) => void, onClose: () => void) => void, destroy: () => void): RawConnection {
  const chunks: Buffer[] = []
  let isClosed = false
  let resolveClosed!: () => void
  const closed = new Promise<void>((resolve) => { resolveClosed = resolve })
  listen((b) => chunks.push(b), () => { isClosed = true; resolveClosed() })
  return { write, received: () => Buffer.concat(chunks), chunks: () => [...chunks], closed, isClosed: () => isClosed, destroy }
}

export async function closedWithin (conn: RawConnection, ms = 3000): Promise<boolean> {
  return await Promise.race([conn.closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))])
}
