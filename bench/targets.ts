/**
 * The brokers a comparison runs against, behind one interface, each in its own process so that
 * every one is measured the same way (CPU and RSS read from /proc by pid):
 *
 * - `mqtt-im`: this project's broker (broker-process.ts), its embedded LevelDB store in a temp dir;
 * - `aedes`: a bare aedes 1.2 (bare-aedes.ts), in memory;
 * - `mosquitto`: Debian's Mosquitto (mosquitto-process.ts), persistent only where asked.
 */
import { LOAD_FROM_ONE_ADDRESS, PROJECT_ROOT, startBroker, type BrokerProcess } from './broker-process.js'
import { Child } from './child.js'
import { mosquittoMissing, startMosquitto, type MosquittoProcess } from './mosquitto-process.js'
import type { Transport } from './options.js'

export const TARGETS = ['mqtt-im', 'aedes', 'mosquitto'] as const
export type TargetName = typeof TARGETS[number]
export const OTHER_TARGETS = ['aedes', 'mosquitto'] as const
export type { Transport }

export interface TargetOptions {
  /** sessions and queued messages must survive a restart (`drain --kill`): Mosquitto persists only then */
  persistent: boolean
  /** per-client queue bound, raised to what the run needs (mqtt-im QUEUE_MAX_MESSAGES, Mosquitto max_queued_messages) */
  queueLimit: number
}

export interface Target {
  readonly name: TargetName
  /** the current process (a new one after `crashAndRestart`) */
  readonly pid: number
  url (transport: Transport): string
  /** `kill -9`, then start again on the same ports and data (the bare aedes cannot: it is in memory) */
  crashAndRestart (): Promise<void>
  stop (): Promise<void>
}

/** Why a target cannot run on this machine (it is then skipped), or undefined. */
export function targetMissing (name: TargetName): string | undefined {
  return name === 'mosquitto' ? mosquittoMissing() : undefined
}

/** Whether a target keeps its sessions and queues across `kill -9` and a restart; if not, why. */
export function survivesRestart (name: TargetName): string | undefined {
  return name === 'aedes' ? 'the bare aedes keeps sessions in memory (its default persistence): a restart loses them by design' : undefined
}

export async function startTarget (name: TargetName, options: TargetOptions): Promise<Target> {
  switch (name) {
    case 'mqtt-im': return await startMqttIm(options)
    case 'aedes': return await startBareAedes()
    case 'mosquitto': return await startMosquittoTarget(options)
  }
}

async function startMqttIm (options: TargetOptions): Promise<Target> {
  const env = { ...LOAD_FROM_ONE_ADDRESS, QUEUE_MAX_MESSAGES: String(options.queueLimit) }
  const first = await startBroker(env)
  let broker: BrokerProcess = first
  return {
    name: 'mqtt-im',
    get pid () { return broker.pid },
    url: (transport) => transport === 'tcp' ? broker.mqttUrl : broker.wsUrl,
    async crashAndRestart () {
      await broker.kill()
      broker = await startBroker(env, { dataDir: first.dataDir, ports: first.ports })
    },
    async stop () {
      if (broker !== first) await broker.stop()
      await first.stop() // deletes the data directory
    }
  }
}

async function startMosquittoTarget (options: TargetOptions): Promise<Target> {
  const first = await startMosquitto(options)
  let mosquitto: MosquittoProcess = first
  return {
    name: 'mosquitto',
    get pid () { return mosquitto.pid },
    url: (transport) => transport === 'tcp' ? `mqtt://127.0.0.1:${mosquitto.ports.tcp}` : `ws://127.0.0.1:${mosquitto.ports.ws}/mqtt`,
    async crashAndRestart () {
      await mosquitto.kill()
      mosquitto = await startMosquitto(options, { dir: first.dir, ports: first.ports })
    },
    async stop () {
      if (mosquitto !== first) await mosquitto.stop()
      await first.stop()
    }
  }
}

const AEDES_START_TIMEOUT_MS = 30_000

async function startBareAedes (): Promise<Target> {
  let onReady: (ports: { tcp: number, ws: number }) => void = () => undefined
  const ready = new Promise<{ tcp: number, ws: number }>((resolve) => { onReady = resolve })
  const child = new Child(process.execPath, ['--import', 'tsx', 'bench/bare-aedes.ts'], {
    cwd: PROJECT_ROOT,
    onLine: (line) => {
      const entry = parseReady(line)
      if (entry) onReady(entry)
      else process.stderr.write(`[aedes] ${line}\n`)
    }
  })
  try {
    const ports = await child.until(ready, 'the bare aedes', AEDES_START_TIMEOUT_MS)
    return {
      name: 'aedes',
      pid: child.pid,
      url: (transport) => transport === 'tcp' ? `mqtt://127.0.0.1:${ports.tcp}` : `ws://127.0.0.1:${ports.ws}/mqtt`,
      crashAndRestart: () => Promise.reject(new Error(survivesRestart('aedes'))),
      stop: () => child.stop()
    }
  } catch (err) {
    await child.stop()
    throw err
  }
}

function parseReady (line: string): { tcp: number, ws: number } | undefined {
  try {
    const entry = JSON.parse(line) as { ready?: boolean, tcp?: number, ws?: number }
    return entry.ready === true && typeof entry.tcp === 'number' && typeof entry.ws === 'number' ? { tcp: entry.tcp, ws: entry.ws } : undefined
  } catch {
    return undefined
  }
}
