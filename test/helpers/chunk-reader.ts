/**
 * A raw MQTT 3.1.1 subscriber in its own process, to see TCP segments as a remote reader sees
 * them: inside the test's own process the broker's writes all land before the reader's next turn
 * of the event loop and arrive merged. Usage:
 *
 *   node --import tsx test/helpers/chunk-reader.ts <port> <client id> <filter>
 *
 * Connects to 127.0.0.1:<port>, subscribes to <filter> at QoS 1, acknowledges every QoS 1 PUBLISH
 * and prints each socket 'data' chunk as one JSON array of bytes per line. Runs until killed.
 */
import { connect } from 'node:net'
import { frame, mqttString, u16 } from './raw.js'

const [port, clientId, filter] = process.argv.slice(2)
if (!port || !clientId || !filter) throw new Error('usage: chunk-reader.ts <port> <client id> <filter>')

const socket = connect(Number(port), '127.0.0.1', () => {
  socket.write(frame(0x10, mqttString('MQTT'), Buffer.from([4, 0x02]), u16(30), mqttString(clientId)))
  socket.write(frame(0x82, u16(1), mqttString(filter), Buffer.from([1])))
})
socket.setNoDelay(true)

let pending: Buffer = Buffer.alloc(0)
socket.on('data', (chunk: Buffer) => {
  process.stdout.write(`${JSON.stringify([...chunk])}\n`)
  pending = acknowledge(Buffer.concat([pending, chunk]))
})
socket.on('close', () => process.exit(0))

/** PUBACKs each complete QoS 1 PUBLISH in `bytes`; returns the bytes of an unfinished packet. */
function acknowledge (bytes: Buffer): Buffer {
  let offset = 0
  for (;;) {
    let length = 0
    let i = 1
    for (let multiplier = 1; ; multiplier *= 128, i++) {
      const byte = bytes[offset + i]
      if (byte === undefined) return bytes.subarray(offset)
      length += (byte & 0x7f) * multiplier
      if ((byte & 0x80) === 0) break
    }
    const bodyStart = offset + i + 1
    if (bodyStart + length > bytes.length) return bytes.subarray(offset)
    const first = bytes[offset] as number
    if (first >> 4 === 3 && ((first >> 1) & 3) === 1) {
      const idAt = bodyStart + 2 + bytes.readUInt16BE(bodyStart)
      socket.write(frame(0x40, bytes.subarray(idAt, idAt + 2)))
    }
    offset = bodyStart + length
  }
}
