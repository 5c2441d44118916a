/**
 * A persistent session under churn: one client id (clean=false) that reconnects every ~150 ms —
 * half of the time dropping its TCP stream, half closing with DISCONNECT — while another user
 * sends it chat messages, each acknowledged. Used by test/features/session-churn.test.ts (one
 * node) and test/cluster/session-churn.test.ts (two nodes). Every client is MQTT.js over TCP.
 */
import { connect, type MqttClient } from 'mqtt'
import type { HistoryPage, ServerEvent } from '../../shared/protocol.js'
import { topics } from '../../shared/topics.js'
import { api, type Principal } from './http.js'
import { NO_RECONNECT, sleep } from './mqtt.js'

export interface ChurnRound {
  /** id of each `msg` event the churning session received, on any of its connections */
  received: Set<string>
  /** ids the sender received back as its own echo */
  echoed: Set<string>
  /** connections the churning session opened */
  connections: number
  /** the connection that stays up after the sends */
  last: MqttClient
  /** closes the last connection and stops listening for echoes */
  end (): Promise<void>
}

export interface ChurnOptions {
  /** the sender: a connected participant-like client that publishes on its outbox */
  sender: { who: Principal, client: MqttClient }
  receiver: Principal
  clientId: string
  cid: string
  messages: number
  /** where each connection of the receiver goes, by its number (0, 1, 2 …) */
  urlOf: (n: number) => string
  /** time between the receiver's reconnects */
  everyMs?: number
  /** messages the sender keeps in flight (each PUBACKed before its slot is reused) */
  window?: number
  /** how long the session stays away between two connections (0: the next CONNECT at once) */
  offlineMs?: number
  /** pause between a send's PUBACK and the next send */
  paceMs?: number
}

/** The id and seq of every message of `cid` in its history, page by page. */
export async function historyOf (httpUrl: string, token: string, cid: string): Promise<Array<{ id: string, seq: number }>> {
  const all: Array<{ id: string, seq: number }> = []
  let after = 0
  for (;;) {
    const res = await api<HistoryPage>(httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=${after}&limit=100`, undefined, token)
    if (res.status !== 200) throw new Error(`history of ${cid}: ${res.status}`)
    all.push(...res.body.messages.map((m) => ({ id: m.id, seq: m.seq })))
    const last = res.body.messages.at(-1)
    if (!res.body.more || !last) return all
    after = last.seq
  }
}

/** One connection of the receiver, its inbox listener attached before CONNECT. */
async function open (url: string, receiver: Principal, clientId: string, received: Set<string>): Promise<MqttClient> {
  const client = connect(url, { ...NO_RECONNECT, clientId, clean: false, username: receiver.uid, password: receiver.token })
  client.on('message', (topic, payload) => {
    if (topic !== topics.inbox(receiver.uid)) return
    const event = JSON.parse(payload.toString()) as ServerEvent
    if (event.ev === 'msg') received.add(event.msg.id)
  })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', (err) => { client.end(true); reject(err) })
    client.once('close', () => reject(new Error('closed before CONNACK')))
  })
  return client
}

/** Ends a connection, abruptly (the TCP stream destroyed) or with DISCONNECT; does not wait. */
function drop (client: MqttClient, abrupt: boolean): void {
  client.on('error', () => {})
  if (abrupt) client.stream.destroy()
  else client.end()
}

/**
 * Subscribes the session once, then churns it while `messages` sends go out; the last connection
 * is left up and returned.
 */
export async function churnRound (options: ChurnOptions): Promise<ChurnRound> {
  const { sender, receiver, clientId, cid } = options
  const received = new Set<string>()
  const echoed = new Set<string>()
  const onEcho = (topic: string, payload: Buffer): void => {
    if (topic !== topics.inbox(sender.who.uid)) return
    const event = JSON.parse(payload.toString()) as ServerEvent
    if (event.ev === 'msg' && event.msg.cid === cid) echoed.add(event.msg.id)
  }
  sender.client.on('message', onEcho)

  let n = 0
  let current = await open(options.urlOf(n++), receiver, clientId, received)
  await current.subscribeAsync(topics.inbox(receiver.uid), { qos: 1 })

  let sending = true
  const churn = (async () => {
    while (sending) {
      await sleep(options.everyMs ?? 150)
      if (!sending) break
      drop(current, n % 2 === 0)
      if (options.offlineMs) await sleep(options.offlineMs)
      // no wait for the broker to see the close: the next CONNECT may take the old one over
      current = await open(options.urlOf(n++), receiver, clientId, received)
    }
  })()

  try {
    const texts = Array.from({ length: options.messages }, (_, i) => `${clientId}-m${i + 1}`)
    const window = options.window ?? 1
    let next = 0
    await Promise.all(Array.from({ length: window }, async () => {
      while (next < texts.length) {
        const text = texts[next++] as string
        await sender.client.publishAsync(topics.outbox(sender.who.uid), JSON.stringify({ op: 'send', cmid: text, cid, type: 'text', body: { text } }), { qos: 1 })
        if (options.paceMs) await sleep(options.paceMs)
      }
    }))
  } finally {
    sending = false
    await churn
  }
  const last = current
  return {
    received,
    echoed,
    connections: n,
    last,
    async end () {
      sender.client.off('message', onEcho)
      await last.endAsync(true)
    }
  }
}
