/** Ports for a broker that cannot report the ones the kernel gave it (Mosquitto), and waiting for them to open. */
import { connect, createServer, type AddressInfo } from 'node:net'
import { sleep } from './clients.js'

const HOST = '127.0.0.1'

/**
 * A port free right now on 127.0.0.1, as the kernel picks them. Another process could take it
 * before the broker binds it; on a bench machine that is unlikely, and the broker then fails to start.
 */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/**
 * Resolves once a TCP connection to `port` succeeds (it is then closed), polling every 50 ms for as
 * long as `keepWaiting()` says (the caller's timeout, or its child still running); rejects after.
 */
export async function waitForPort (port: number, keepWaiting: () => boolean): Promise<void> {
  while (keepWaiting()) {
    if (await accepts(port)) return
    await sleep(50)
  }
  throw new Error(`nothing listens on port ${port}`)
}

function accepts (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { socket.destroy(); resolve(false) })
  })
}
