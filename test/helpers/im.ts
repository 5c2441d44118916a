/** A thin test-side IM participant: one MQTT connection subscribed to its inbox, collecting events. */
import type { IClientOptions, MqttClient } from 'mqtt'
import type { ServerEvent } from '../../shared/protocol.js'
import { topics } from '../../shared/topics.js'
import { api, type Principal } from './http.js'
import { connectClient, waitFor } from './mqtt.js'

export interface Participant {
  uid: string
  token: string
  client: MqttClient
  events: ServerEvent[]
  command (command: Record<string, unknown>, qos?: 0 | 1): Promise<void>
  next<E extends ServerEvent['ev']> (ev: E, match?: (e: Extract<ServerEvent, { ev: E }>) => boolean, timeoutMs?: number): Promise<Extract<ServerEvent, { ev: E }>>
  close (): Promise<void>
}

export async function join (url: string, who: Principal, clientId = `${who.uid}-${Math.random().toString(36).slice(2, 8)}`, clean = true, options: IClientOptions = {}): Promise<Participant> {
  const client = await connectClient(url, { username: who.uid, password: who.token, clientId, clean, ...options })
  const joined = participant(client, who)
  await client.subscribeAsync(topics.inbox(who.uid), { qos: 1 })
  return joined
}

/** Collects `who`'s inbox events on `client`; attached before CONNACK, it also catches a resumed session's backlog. */
export function participant (client: MqttClient, who: Pick<Principal, 'uid' | 'token'>): Participant {
  const events: ServerEvent[] = []
  client.on('message', (topic, payload) => { if (topic === topics.inbox(who.uid)) events.push(JSON.parse(payload.toString()) as ServerEvent) })
  return {
    uid: who.uid,
    token: who.token,
    client,
    events,
    async command (command, qos = 1) {
      await client.publishAsync(topics.outbox(who.uid), JSON.stringify(command), { qos })
    },
    async next (ev, match = () => true, timeoutMs = 5000) {
      type E = Extract<ServerEvent, { ev: typeof ev }>
      return await waitFor(() => events.find((e): e is E => e.ev === ev && match(e as E)), timeoutMs, `event ${ev}`)
    },
    async close () { await client.endAsync(true) }
  }
}

export async function createConversation (httpUrl: string, token: string, kind: 'direct' | 'group', members: string[], title?: string): Promise<string> {
  const res = await api(httpUrl, 'POST', '/api/v1/conversations', { kind, members, ...(title ? { title } : {}) }, token)
  if (res.status !== 201 && res.status !== 200) throw new Error(`create conversation: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.cid
}
