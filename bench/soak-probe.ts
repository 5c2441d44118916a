/**
 * What the soak reads of the broker once a minute: its used heap after two forced full GCs (over
 * the inspector, inspector.ts), its RSS and open file descriptors (`/proc`), and from its
 * `/metrics` the stored persistent sessions (`mqtt_sessions_stored`, as of the last session
 * sweep), the open connections (`mqtt_connections`, every transport) and the clients that
 * completed CONNECT (`mqtt_clients_connected`).
 */
import { readdirSync } from 'node:fs'
import { Inspector } from './inspector.js'
import { rssBytes } from './proc.js'

export interface BrokerSample {
  heapUsedBytes: number
  rssBytes: number | null
  fds: number | null
  sessionsStored: number | null
  connections: number | null
  clientsConnected: number | null
}

export class BrokerProbe {
  private constructor (readonly pid: number, readonly metricsUrl: string, readonly inspector: Inspector) {}

  /** `inspectPort`: the broker's `--inspect=127.0.0.1:{port}`; its target is looked up there. */
  static async attach (pid: number, metricsPort: number, inspectPort: number): Promise<BrokerProbe> {
    const res = await fetch(`http://127.0.0.1:${inspectPort}/json/list`)
    const targets = await res.json() as Array<{ webSocketDebuggerUrl?: string }>
    const url = targets[0]?.webSocketDebuggerUrl
    if (url === undefined) throw new Error(`no inspector target on 127.0.0.1:${inspectPort}`)
    return new BrokerProbe(pid, `http://127.0.0.1:${metricsPort}/metrics`, await Inspector.connect(url))
  }

  async sample (): Promise<BrokerSample> {
    const { usedBytes } = await this.inspector.heapAfterGc()
    const metrics = await this.#metrics().catch(() => undefined)
    // a labelled gauge has no sample before its first label (no connection yet): that is 0
    const read = (name: string): number | null => metrics === undefined ? null : metrics.get(name) ?? 0
    return {
      heapUsedBytes: usedBytes,
      rssBytes: rssBytes(this.pid) ?? null,
      fds: openFds(this.pid),
      sessionsStored: read('mqtt_sessions_stored'),
      connections: read('mqtt_connections'),
      clientsConnected: read('mqtt_clients_connected')
    }
  }

  async snapshot (file: string): Promise<void> {
    await this.inspector.snapshot(file)
  }

  close (): void {
    this.inspector.close()
  }

  /** Every sample of the text format, summed per metric name over its labels. */
  async #metrics (): Promise<Map<string, number>> {
    const text = await (await fetch(this.metricsUrl)).text()
    const sums = new Map<string, number>()
    for (const line of text.split('\n')) {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})? (\S+)$/.exec(line)
      if (!match) continue
      const value = Number(match[2])
      if (Number.isFinite(value)) sums.set(match[1]!, (sums.get(match[1]!) ?? 0) + value)
    }
    return sums
  }
}

function openFds (pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return null
  }
}
