/**
 * The broker under test runs in its own process — `node --import tsx broker/main.ts`, what
 * `npm run dev` runs — so that its CPU time and memory can be read apart from the benchmark's
 * clients. Each broker gets a fresh temporary DATA_DIR (or, to restart after a crash, the one it
 * had), listens on 127.0.0.1 with ports chosen by the kernel (or the ones it had), and logs at
 * `info` — nothing on the hot path logs at that level — so its "broker ready" line tells the ports.
 */
import { fileURLToPath } from 'node:url'
import { CONFIG_KEYS } from '../broker/config/schema.js'
import { Child, makeTempDir, removeTempDir } from './child.js'

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url))
const START_TIMEOUT_MS = 30_000

export interface BrokerPorts { mqtt: number, http: number }

export interface BrokerProcess {
  readonly pid: number
  readonly dataDir: string
  readonly ports: BrokerPorts
  readonly mqttUrl: string
  readonly wsUrl: string
  /** base of the HTTP API, e.g. `http://127.0.0.1:41234` */
  readonly httpUrl: string
  /** SIGTERM (SIGKILL after 10 s); deletes the data directory unless the caller gave it */
  stop (): Promise<void>
  /** `kill -9`; the data directory stays */
  kill (): Promise<void>
}

/** To start a broker again on what a killed one left: its data directory (kept at stop) and its ports. */
export interface BrokerReuse { dataDir: string, ports?: BrokerPorts }

/**
 * The bench's whole load comes from one address and a few uids, as fast as the broker takes it:
 * the per-address and per-uid rate limits, meant for abuse, would measure themselves. Lifted here;
 * their cost per message (a token bucket per command) stays in the figures.
 */
export const LOAD_FROM_ONE_ADDRESS: Readonly<Record<string, string>> = {
  CONNECTS_PER_IP_PER_MINUTE: '1000000',
  LOGIN_ATTEMPTS_PER_IP_PER_MINUTE: '1000000',
  COMMANDS_PER_SECOND: '100000',
  COMMAND_BURST: '100000',
  CONVERSATIONS_PER_USER_PER_HOUR: '1000000'
}

/** the broker's defaults for a chat message and a command; raised for a larger --payload */
const BROKER_MESSAGE_MAX_CHARS = 10_000
const BROKER_COMMAND_MAX_BYTES = 65_536

/** The settings of a broker for the IM runs: an admin to set them up, and room for `payloadBytes` commands. */
export function imBrokerEnv (payloadBytes: number, adminPassword: string): Record<string, string> {
  const env: Record<string, string> = { ...LOAD_FROM_ONE_ADDRESS, ADMIN_PASSWORD: adminPassword }
  if (payloadBytes > BROKER_MESSAGE_MAX_CHARS) env.MESSAGE_MAX_CHARS = String(payloadBytes)
  if (payloadBytes + 1024 > BROKER_COMMAND_MAX_BYTES) env.COMMAND_MAX_BYTES = String(payloadBytes + 1024)
  return env
}

/**
 * Starts a broker; `env` adds or overrides settings (the caller's own config variables are ignored).
 * `root`: the checkout whose `broker/main.ts` runs — this one, or another commit's (login-flood's
 * `--baseline`).
 */
export async function startBroker (env: Record<string, string> = {}, reuse?: BrokerReuse, root = PROJECT_ROOT): Promise<BrokerProcess> {
  const dataDir = reuse?.dataDir ?? makeTempDir('mqtt-im-bench-')
  const childEnv: NodeJS.ProcessEnv = { ...process.env }
  for (const key of [...CONFIG_KEYS, 'CONFIG_FILE']) delete childEnv[key]
  Object.assign(childEnv, {
    HOST: '127.0.0.1',
    MQTT_PORT: String(reuse?.ports?.mqtt ?? 0),
    HTTP_PORT: String(reuse?.ports?.http ?? 0),
    METRICS_PORT: '0',
    DATA_DIR: dataDir,
    ANONYMOUS_NAMESPACE: 'bench/#',
    LOG_LEVEL: 'info',
    ...env
  })
  let onReady: (ports: BrokerPorts) => void = () => undefined
  const ready = new Promise<BrokerPorts>((resolve) => { onReady = resolve })
  const child = new Child(process.execPath, ['--import', 'tsx', 'broker/main.ts'], {
    cwd: root,
    env: childEnv,
    onLine: (line) => {
      const entry = parseLogLine(line)
      if (entry?.msg === 'broker ready' && entry.ports) onReady(entry.ports)
      else if (entry === undefined || entry.level >= 40) process.stderr.write(`[broker] ${line}\n`)
    }
  })
  const stop = async (): Promise<void> => {
    await child.stop()
    if (reuse === undefined) removeTempDir(dataDir)
  }
  try {
    const ports = await child.until(ready, 'the broker', START_TIMEOUT_MS)
    return {
      pid: child.pid,
      dataDir,
      ports,
      mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
      wsUrl: `ws://127.0.0.1:${ports.http}/mqtt`,
      httpUrl: `http://127.0.0.1:${ports.http}`,
      stop,
      kill: () => child.kill()
    }
  } catch (err) {
    await stop()
    throw err
  }
}

function parseLogLine (line: string): { level: number, msg?: string, ports?: BrokerPorts } | undefined {
  try {
    return JSON.parse(line) as { level: number, msg?: string, ports?: BrokerPorts }
  } catch {
    return undefined
  }
}
