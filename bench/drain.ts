/**
 * `drain`: an offline persistent session catching up. A subscriber with a persistent session
 * (clean=false, fixed client id) subscribes at QoS 1 and disconnects; a publisher sends N QoS 1
 * messages to its topic (at most `window` without their PUBACK) — the broker must queue them all;
 * then the subscriber reconnects with the same client id and clean=false, without subscribing again
 * [MQTT-3.1.2-4], and the time until it holds all N (acknowledging each) is the drain time.
 *
 * `--kill`: between the publisher's last PUBACK and the reconnection, the broker gets `kill -9` and
 * is started again on the same data and ports: whatever was acknowledged but not durable is lost.
 * `--kill-delay` waits before the kill: the broker then has had that long to make its store durable
 * (Mosquitto saves a snapshot every second at best), which asks "does a queue survive a crash"
 * rather than "is an acknowledged message durable at once".
 *
 * Payload (little-endian), as relay.ts: u16 0 | u16 0 | u32 seq | f64 send time | zeros; every copy
 * is checked off by seq, so lost and duplicated messages are exact.
 */
import { performance } from 'node:perf_hooks'
import { sleep } from './clients.js'
import { LeanClient, PublishEncoder } from './lean-client.js'
import { RssSampler, cpuSeconds } from './proc.js'
import { HEADER_BYTES } from './relay.js'
import type { Target, TargetName, Transport } from './targets.js'

export interface DrainOptions {
  transport: Transport
  messages: number
  window: number
  payloadBytes: number
  kill: boolean
  /** `--kill`: milliseconds between the last PUBACK and the kill */
  killDelayMs: number
  round: number
  /** the drain (or the publishing) is over when nothing arrives for this long */
  stallMs?: number
}

export interface DrainRow {
  target: TargetName
  transport: Transport
  round: number
  kill: boolean
  messages: number
  /** publisher's first PUBLISH to its last PUBACK */
  publishSeconds: number
  /** `--kill`: from the kill to the new broker listening */
  restartSeconds: number | null
  /** CONNACK's session present flag at the reconnection [MQTT-3.2.2-2] */
  sessionPresent: boolean
  /** distinct messages received */
  received: number
  lost: number
  duplicates: number
  /** from the reconnection's CONNECT to the last distinct message */
  drainSeconds: number
  messagesPerSecond: number
  broker: { cpuSeconds: number | null, peakRssBytes: number | null }
}

/** after the last message: copies still arriving count as duplicates */
const LATE_DUPLICATE_GRACE_MS = 500
/** let the broker finish closing the first connection before messages arrive for the session */
const OFFLINE_SETTLE_MS = 200
/** when the reconnection finds no session, how long to wait for messages anyway */
const NO_SESSION_WAIT_MS = 1000

export async function runDrain (target: Target, options: DrainOptions): Promise<DrainRow> {
  const stallMs = options.stallMs ?? 10_000
  const clientId = `bench-drain-${options.transport}-${process.pid}-${options.round}`
  const topic = `bench/drain/${options.transport}/${options.round}`
  const session = { clientId, clean: false, keepalive: 60 }
  const first = await LeanClient.connect(target.url(options.transport), session)
  const granted = await first.subscribe(topic, 1)
  if (granted !== 1) throw new Error(`${target.name}: subscription to ${topic} refused (granted ${granted})`)
  await first.disconnect()
  await sleep(OFFLINE_SETTLE_MS)

  const publishSeconds = await publishAll(target.url(options.transport), topic, options, stallMs)
  let restartSeconds: number | null = null
  if (options.kill) {
    await sleep(options.killDelayMs)
    const killedAt = performance.now()
    await target.crashAndRestart()
    restartSeconds = (performance.now() - killedAt) / 1000
  }

  const seen = new Uint8Array(options.messages)
  let received = 0
  let duplicates = 0
  let lastAt = 0
  let failure: Error | undefined
  let onAll: () => void = () => undefined
  const all = new Promise<void>((resolve) => { onAll = resolve })
  const rss = new RssSampler(target.pid)
  const cpuBefore = cpuSeconds(target.pid)
  const startedAt = performance.now()
  lastAt = startedAt
  const subscriber = await LeanClient.connect(target.url(options.transport), session, {
    lost: (err) => { failure ??= err },
    publish: (packet) => {
      const payload = packet.payload as Buffer
      const seq = payload.length >= HEADER_BYTES ? payload.readUInt32LE(4) : -1
      if (packet.topic !== topic || seq < 0 || seq >= options.messages) { failure ??= new Error(`${target.name}: a message that was not ours on ${packet.topic}`); return }
      if (seen[seq] === 1) { duplicates++; return }
      seen[seq] = 1
      received++
      lastAt = performance.now()
      if (received === options.messages) onAll()
    }
  })
  try {
    // Without a session [MQTT-3.2.2-3] there is no subscription either: nothing will come.
    const wait = subscriber.sessionPresent ? stallMs : Math.min(stallMs, NO_SESSION_WAIT_MS)
    await Promise.race([all, stalled(() => lastAt, wait, () => failure, () => received === options.messages)])
    const cpuAfter = cpuSeconds(target.pid)
    await sleep(LATE_DUPLICATE_GRACE_MS)
    if (failure) throw failure
    const drainSeconds = (lastAt - startedAt) / 1000
    return {
      target: target.name,
      transport: options.transport,
      round: options.round,
      kill: options.kill,
      messages: options.messages,
      publishSeconds,
      restartSeconds,
      sessionPresent: subscriber.sessionPresent,
      received,
      lost: options.messages - received,
      duplicates,
      drainSeconds: received > 0 ? drainSeconds : 0,
      messagesPerSecond: received > 0 && drainSeconds > 0 ? received / drainSeconds : 0,
      broker: {
        cpuSeconds: cpuBefore !== undefined && cpuAfter !== undefined ? Math.round((cpuAfter - cpuBefore) * 1000) / 1000 : null,
        peakRssBytes: rss.stop() ?? null
      }
    }
  } finally {
    rss.stop()
    await subscriber.disconnect()
  }
}

/** Publishes `messages` QoS 1 messages to `topic`, at most `window` without PUBACK; resolves with the seconds it took. */
async function publishAll (url: string, topic: string, options: DrainOptions, stallMs: number): Promise<number> {
  const encoder = new PublishEncoder(topic, 1, options.payloadBytes)
  let sent = 0
  let acked = 0
  let lastAt = performance.now()
  let failure: Error | undefined
  let onDone: () => void = () => undefined
  const done = new Promise<void>((resolve) => { onDone = resolve })
  const pump = (): void => {
    while (sent < options.messages && sent - acked < options.window) {
      const packet = encoder.encode(publisher.nextMessageId())
      packet.writeUInt32LE(sent++, encoder.payloadOffset + 4)
      packet.writeDoubleLE(performance.now(), encoder.payloadOffset + 8)
      publisher.send(packet)
    }
  }
  const publisher = await LeanClient.connect(url, { clientId: `bench-drain-pub-${process.pid}`, clean: true, keepalive: 60 }, {
    lost: (err) => { failure ??= err },
    puback: () => {
      acked++
      lastAt = performance.now()
      if (acked === options.messages) onDone()
      else pump()
    }
  })
  const startedAt = performance.now()
  try {
    pump()
    await Promise.race([done, stalled(() => lastAt, stallMs, () => failure, () => acked === options.messages)])
    if (failure) throw failure
    if (acked < options.messages) throw new Error(`the publisher stalled: ${acked} of ${options.messages} messages acknowledged`)
    return (performance.now() - startedAt) / 1000
  } finally {
    await publisher.disconnect()
  }
}

/**
 * Resolves once nothing has moved for `stallMs`, rejects on a failure; checks every 50 ms and stops
 * checking, without settling, once `finished()`: it only ever ends a race.
 */
function stalled (lastProgressAt: () => number, stallMs: number, failure: () => Error | undefined, finished: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const err = failure()
      if (finished()) clearInterval(timer)
      else if (err) { clearInterval(timer); reject(err) } else if (performance.now() - lastProgressAt() > stallMs) { clearInterval(timer); resolve() }
    }, 50)
  })
}
