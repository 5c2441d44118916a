/** The URLs the broker serves, as the start-up banner and the `broker ready` log line name them. */
import type { Config } from './schema.js'

export interface Ports { mqtt: number, http: number, metrics: number, mqtts?: number, https?: number }

export function publicUrls (config: Config, ports: Ports): Record<string, string> {
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST
  const base = config.PUBLIC_URL?.replace(/\/$/, '') ?? `http://${host}:${ports.http}`
  const urls: Record<string, string> = {
    mqtt: `mqtt://${host}:${ports.mqtt}`,
    websocket: `${base.replace(/^http/, 'ws')}/mqtt`,
    api: `${base}/api/v1`,
    health: `${base}/healthz`,
    // its own listener, on this machine unless METRICS_HOST says otherwise [IM-HTTP-3]
    metrics: `http://${config.METRICS_HOST.includes(':') ? `[${config.METRICS_HOST}]` : config.METRICS_HOST}:${ports.metrics}/metrics`
  }
  if (ports.mqtts !== undefined) urls.mqtts = `mqtts://${host}:${ports.mqtts}`
  if (ports.https !== undefined) urls.wss = `wss://${host}:${ports.https}/mqtt`
  return urls
}
