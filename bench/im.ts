/**
 * The IM path end to end: `send` commands on `im/u/{uid}/out` → outbox (parse, membership, durable
 * append with the next seq) → `msg` events on every member's `im/u/{uid}/in` → PUBACK of the
 * command. [IM-CMD-SEND] [IM-ACK-1] Two shapes:
 *
 * - `direct`: N pairs of users, each with its direct conversation; the first of each pair sends,
 *   the second receives;
 * - `group`: one group of G users, the first S of them sending; each message reaches the G−1
 *   other members.
 *
 * Every member — senders included, as real clients are — subscribes to its inbox, so each message
 * also comes back to its sender (the echo [IM-CMD-SEND]); `workload.ts` checks it off apart from
 * the deliveries. The text of each message starts with `phase:sender:seq:sentAt:` and is padded so
 * that the whole command is `payloadBytes` long, the size of a relay payload.
 *
 * On several broker nodes (`urls`, the `cluster` suite), users connect round robin so that each
 * message crosses nodes: in `direct`, sender i to node i mod N and its peer to the next node; in
 * `group`, member i to node i mod N.
 */
import type { MqttClient } from 'mqtt'
import type { ImEvent, SendCommand } from '../shared/protocol.js'
import { topics } from '../shared/topics.js'
import { connectClient } from './clients.js'
import type { PhaseHooks } from './cpu-meter.js'
import { createConversation, createUsers, type ImUser } from './im-setup.js'
import { runWorkload, type Codec, type Decoded, type Sender, type WorkloadResult } from './workload.js'

export const IM_SCENARIOS = ['direct', 'group'] as const
export type ImScenario = typeof IM_SCENARIOS[number]

export interface ImRunOptions {
  transport: string
  /** MQTT URL of the transport (mqtt:// or ws://) */
  url: string
  /** the MQTT URLs of several broker nodes, one per node, on the same store (default: `[url]`) */
  urls?: string[]
  /** the broker's HTTP base, for set-up */
  httpUrl: string
  adminToken: string
  brokerPid: number
  messages: number
  warmup: number
  window: number
  payloadBytes: number
  /** called right before and right after the measured phase (cpu-meter.ts) */
  phase?: PhaseHooks
}

export interface DirectShape { pairs: number }
export interface GroupShape { members: number, senders: number }

export async function runImDirect (options: ImRunOptions, { pairs }: DirectShape): Promise<WorkloadResult> {
  const uids = Array.from({ length: pairs }, (_, i) => [`direct-s${i}`, `direct-r${i}`]).flat()
  const users = await createUsers(options.httpUrl, options.adminToken, uids)
  const sending = users.filter((_, i) => i % 2 === 0)
  const receiving = users.filter((_, i) => i % 2 === 1)
  const cids = await Promise.all(sending.map((user, i) => createConversation(options.httpUrl, user, 'direct', [receiving[i]!.uid])))
  // receivers: the senders (echoes) first, then their peers, each on the node after its sender's
  const nodes = [...sending.map((_, i) => i), ...receiving.map((_, i) => i + 1)]
  return await runIm(options, 'im direct', [...sending, ...receiving], nodes, sending.map((_, i) => ({ cid: cids[i]!, echo: i, recipients: [pairs + i] })))
}

export async function runImGroup (options: ImRunOptions, { members, senders }: GroupShape): Promise<WorkloadResult> {
  const users = await createUsers(options.httpUrl, options.adminToken, Array.from({ length: members }, (_, i) => `group-m${i}`))
  const [owner, ...others] = users
  const cid = await createConversation(options.httpUrl, owner!, 'group', others.map((u) => u.uid))
  const everyone = users.map((_, i) => i)
  return await runIm(options, 'im group', users, everyone, Array.from({ length: senders }, (_, i) => ({ cid, echo: i, recipients: everyone.filter((j) => j !== i) })))
}

interface ImSender { cid: string, echo: number, recipients: number[] }

/**
 * Connects every user — user i to node `nodes[i]` mod N — with its inbox subscribed at QoS 1, and
 * runs the workload; sender i is user i.
 */
async function runIm (options: ImRunOptions, run: string, users: ImUser[], nodes: number[], senders: ImSender[]): Promise<WorkloadResult> {
  const urls = options.urls ?? [options.url]
  return await runWorkload({
    run,
    transport: options.transport,
    brokerPid: options.brokerPid,
    messages: options.messages,
    warmup: options.warmup,
    window: options.window,
    phase: options.phase,
    connect: async (errors, opened) => {
      const clients = await Promise.all(users.map(async (user, i): Promise<MqttClient> => {
        const client = await connectClient(urls[(nodes[i] ?? 0) % urls.length]!, { clientId: `bench-${process.pid}-${user.uid}`, username: user.uid, password: user.token }, errors)
        opened.push(client)
        const granted = await client.subscribeAsync(topics.inbox(user.uid), { qos: 1 })
        if (granted[0]?.qos !== 1) throw new Error(`${user.uid}: subscription to its inbox refused (granted ${String(granted[0]?.qos)})`)
        return client
      }))
      const workloadSenders: Sender[] = senders.map((s, i) => ({ client: clients[i]!, topic: topics.outbox(users[i]!.uid), recipients: s.recipients, echo: s.echo }))
      const codec = imCodec(senders.map((s) => s.cid), senders.map((_, i) => users[i]!.uid), options.payloadBytes)
      return { receivers: clients, senders: workloadSenders, codec }
    }
  })
}

const BAD: Decoded = { kind: 'bad' }
const OTHER: Decoded = { kind: 'other' }

/** `send` commands out, `msg` events in; sender i writes to `cids[i]` as `uids[i]`. */
export function imCodec (cids: string[], uids: string[], payloadBytes: number): Codec {
  const fill = '.'.repeat(payloadBytes)
  return {
    encode (sender, phase, seq, sentAt) {
      const head = `${phase}:${sender}:${seq}:${sentAt}:`
      const command: SendCommand = { op: 'send', cmid: `b${phase}-${sender}-${seq}`, cid: cids[sender]!, type: 'text', body: { text: head } }
      const bare = JSON.stringify(command)
      // every character is ASCII, so characters are bytes
      if (bare.length >= payloadBytes) return bare
      command.body = { text: head + fill.slice(0, payloadBytes - bare.length) }
      return JSON.stringify(command)
    },
    decode (payload) {
      let event: ImEvent
      try {
        event = JSON.parse(payload.toString('utf8')) as ImEvent
      } catch {
        return BAD
      }
      switch (event.ev) {
        case 'msg': {
          const { msg } = event
          const text = msg.body !== null && 'text' in msg.body ? msg.body.text : ''
          const [phase, sender, seq, sentAt] = text.split(':', 4).map(Number) as [number, number, number, number]
          if (!Number.isInteger(phase) || !Number.isInteger(sender) || cids[sender] !== msg.cid || uids[sender] !== msg.from) return BAD
          return { kind: 'message', phase, sender, seq, sentAt, id: msg.id }
        }
        case 'error':
          return { kind: 'error', detail: `${event.code} ${event.message}${event.cmid === undefined ? '' : ` (cmid ${event.cmid})`}` }
        default:
          return OTHER
      }
    }
  }
}
