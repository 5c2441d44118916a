/**
 * A real Mosquitto (Debian's /usr/sbin/mosquitto) with one WebSocket listener on 127.0.0.1 and a
 * free port, anonymous, on a temp config file; `stop()` kills it and removes the temp dir.
 * `MOSQUITTO_BIN` tells whether it is installed: tests skip loudly when it is not.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { freePort } from './broker.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto'

export function mosquittoInstalled (): boolean {
  return existsSync(MOSQUITTO_BIN)
}

export interface Mosquitto {
  port: number
  wsUrl: string
  /** what it logged so far */
  log (): string
  stop (): Promise<void>
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { socket.destroy(); resolve(false) })
  })
}

export async function startMosquitto (): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-im-mosquitto-'))
  const port = await freePort()
  const tcpPort = await freePort()
  const config = join(dir, 'mosquitto.conf')
  writeFileSync(config, [
    `listener ${port} 127.0.0.1`, 'protocol websockets',
    // Mosquitto 2.0.11 (Debian 12) exits with "Unable to start any listening sockets" when its only
    // listener speaks WebSockets: it counts plain sockets only. A plain MQTT listener keeps it up.
    `listener ${tcpPort} 127.0.0.1`,
    'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type all', ''
  ].join('\n'))
  const child = spawn(MOSQUITTO_BIN, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', (chunk: Buffer) => { log += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { log += chunk.toString() })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 3000)
    await exited
    clearTimeout(timer)
    rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 10_000
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`mosquitto did not start on port ${port}\n${log}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { port, wsUrl: `ws://127.0.0.1:${port}/mqtt`, log: () => log, stop }
}
