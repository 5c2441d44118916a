/**
 * The plain-MQTT twin of the IM `group` run, its baseline: G anonymous clients all subscribed at
 * QoS 1 to one topic, the first S of them publishing to it. As in the group, every message reaches
 * the G−1 others and comes back to its sender (MQTT 3.1.1 has no "no local"), so both runs make the
 * broker deliver the same number of copies; what differs is the IM pipeline alone. On several
 * broker nodes (`urls`), client i connects to node i mod N, as the group's members do (im.ts).
 *
 * Payload layout (little-endian), as in `relay.ts`: u16 sender | u16 phase | u32 seq | f64 sentAt | zeros.
 */
import type { MqttClient } from 'mqtt'
import { connectClient } from './clients.js'
import type { PhaseHooks } from './cpu-meter.js'
import { HEADER_BYTES } from './relay.js'
import { runWorkload, type Codec, type WorkloadResult } from './workload.js'
import type { GroupShape } from './im.js'

export interface RelayGroupOptions {
  transport: string
  url: string
  /** the MQTT URLs of several broker nodes (default: `[url]`) */
  urls?: string[]
  brokerPid: number
  messages: number
  warmup: number
  window: number
  payloadBytes: number
  /** called right before and right after the measured phase (cpu-meter.ts) */
  phase?: PhaseHooks
}

export async function runRelayGroup (options: RelayGroupOptions, { members, senders }: GroupShape): Promise<WorkloadResult> {
  const topic = `bench/group/${process.pid}`
  const urls = options.urls ?? [options.url]
  return await runWorkload({
    run: 'relay group',
    transport: options.transport,
    brokerPid: options.brokerPid,
    messages: options.messages,
    warmup: options.warmup,
    window: options.window,
    phase: options.phase,
    connect: async (errors, opened) => {
      const clients = await Promise.all(Array.from({ length: members }, async (_, i): Promise<MqttClient> => {
        const client = await connectClient(urls[i % urls.length]!, { clientId: `bench-${options.transport}-${process.pid}-group-${i}` }, errors)
        opened.push(client)
        const granted = await client.subscribeAsync(topic, { qos: 1 })
        if (granted[0]?.qos !== 1) throw new Error(`subscription to ${topic} refused (granted ${String(granted[0]?.qos)})`)
        return client
      }))
      const everyone = clients.map((_, i) => i)
      return {
        receivers: clients,
        senders: Array.from({ length: senders }, (_, i) => ({ client: clients[i]!, topic, echo: i, recipients: everyone.filter((j) => j !== i) })),
        codec: binaryCodec(options.payloadBytes)
      }
    }
  })
}

function binaryCodec (payloadBytes: number): Codec {
  return {
    encode (sender, phase, seq, sentAt) {
      const payload = Buffer.alloc(payloadBytes)
      payload.writeUInt16LE(sender, 0)
      payload.writeUInt16LE(phase, 2)
      payload.writeUInt32LE(seq, 4)
      payload.writeDoubleLE(sentAt, 8)
      return payload
    },
    decode (payload) {
      if (payload.length < HEADER_BYTES) return { kind: 'bad' }
      return { kind: 'message', sender: payload.readUInt16LE(0), phase: payload.readUInt16LE(2), seq: payload.readUInt32LE(4), sentAt: payload.readDoubleLE(8), id: '' }
    }
  }
}
