/**
 * Clients of the client library (`createImClient`) chatting while broker nodes go away: what each
 * sent, what the broker acknowledged (the PUBACK, so stored [IM-ACK-1], or the echo), who lost the
 * connection and how soon it was back, and the messages each client handed out.
 *
 * `verify` holds that against the stored history: every send acknowledged and stored exactly once,
 * seq 1..N without a gap in each conversation, every member's client handing out that same history
 * (live or by its gap sync), and reports the figures — sent, acknowledged, stored, lost, duplicated.
 *
 * Waiting for the sends to end and for the clients to catch up is bounded by a stall, not by a
 * deadline: on a loaded machine a cluster on FerretDB drains its backlog slowly (every delivery to
 * a persistent session is an insert, an update and a delete of its queued copy, and SQLite takes
 * the writes one at a time: under CPU contention the sends of a few seconds took 20–35 s to end),
 * which is no fault. What is one — a send that is never acknowledged, a message never handed out —
 * shows as nothing moving at all for STALL_MS while something is still awaited.
 */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { ImClient } from '../../shared/client/core.js'
import { createImClient } from '../../shared/client/index.js'
import type { Message } from '../../shared/protocol.js'
import { range } from './cluster.js'
import type { Principal } from './http.js'
import { sleep } from './mqtt.js'

/** How long to keep listening after the expected messages, to catch duplicates and strays. */
const SETTLE_MS = 300
/**
 * How long nothing may move — no send changing state or ending, no message handed out, no
 * connect — while something is still awaited, before the wait gives up: a stall.
 */
const STALL_MS = 30_000

/** A conversation under traffic and the uids whose clients must end with its history. */
export interface Chat { cid: string, members: string[] }

export interface Figures {
  sent: number
  acknowledged: number
  stored: number
  /** acknowledged, not in the history */
  lost: string[]
  /** messages stored with a cmid stored before */
  duplicated: number
  /** sends published more than once */
  resent: number
}

export interface ClientSettings { mqttUrl: string, httpUrl: string, connectTimeoutMs?: number }

export class ChatTraffic {
  /** connections lost, per uid */
  readonly drops = new Map<string, number>()
  /** reconnect attempts that failed, and why */
  readonly failedAttempts: string[] = []
  readonly #settings: ClientSettings
  readonly #clients = new Map<string, ImClient>()
  readonly #sends: Array<{ cmid: string, outcome: Promise<Message>, uid: string }> = []
  readonly #settled = new Map<string, string | undefined>()
  readonly #acknowledged = new Set<string>()
  readonly #attempts = new Map<string, number>()
  readonly #received = new Map<string, Message[]>()
  /** "uid after N ms": each connect after the last disruption */
  readonly #back: string[] = []
  #disruptedAt = 0
  /** bumped by everything the clients report: a wait gives up only once it stops moving */
  #moves = 0

  constructor (settings: ClientSettings) {
    this.#settings = settings
  }

  /** A client for `who`, quick to reconnect and to re-send, followed from the start; not connected yet. */
  client (who: Principal): ImClient {
    const { uid } = who
    const client = createImClient({
      mqttUrl: this.#settings.mqttUrl, httpUrl: this.#settings.httpUrl, uid, token: who.token, clientId: `${uid}-traffic`,
      reconnect: { initialMs: 100, maxMs: 1000 }, echoTimeoutMs: 2000,
      ...(this.#settings.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: this.#settings.connectTimeoutMs })
    })
    this.#clients.set(uid, client)
    this.#received.set(uid, [])
    client.on('message', (m) => { this.#moves++; this.#received.get(uid)!.push(m) })
    client.on('pending', (p) => {
      this.#moves++
      this.#attempts.set(p.cmid, p.attempts)
      if (p.status === 'stored') this.#acknowledged.add(p.cmid)
    })
    client.on('sent', (m) => { this.#acknowledged.add(m.cmid) })
    client.on('disconnected', () => { this.drops.set(uid, (this.drops.get(uid) ?? 0) + 1) })
    client.on('connected', () => { this.#moves++; if (this.#disruptedAt > 0) this.#back.push(`${uid} after ${Date.now() - this.#disruptedAt} ms`) })
    client.on('reconnecting', (e) => { if (e.error !== undefined) this.failedAttempts.push(`${uid}: ${e.error.message}`) })
    return client
  }

  /**
   * Connects `uid`'s client and waits for its first sync, so that whatever is sent from then on is
   * news to it. Until its first conversation list a client takes a conversation's stored messages
   * for history (shared/client/sync-state.ts `adopt`): a message stored just before that list and
   * delivered just after it would never be handed out, and the history check would miss it.
   */
  async connect (uid: string): Promise<void> {
    const client = this.#clients.get(uid)!
    await client.connect()
    await client.sync()
  }

  get sent (): number {
    return this.#sends.length
  }

  /** `uid`'s client sends `text` (not awaited: the outcome is collected). */
  send (uid: string, cid: string, text: string, cmid: string): void {
    const outcome = this.#clients.get(uid)!.send(cid, text, 'text', { cmid })
    outcome.then(() => { this.#moves++; this.#settled.set(cmid, undefined) }, (err: unknown) => { this.#moves++; this.#settled.set(cmid, `${cmid}: ${String(err)}`) })
    this.#sends.push({ cmid, outcome, uid })
  }

  /** How many of `uid`'s sends have not ended yet. */
  unconfirmed (uid: string): number {
    return this.#sends.filter((s) => s.uid === uid && !this.#settled.has(s.cmid)).length
  }

  /** A node is going away: the reconnects from now on are timed from here. */
  disrupted (): void {
    this.#disruptedAt = Date.now()
    this.#back.length = 0
  }

  /** The messages of `cid` `uid`'s client handed out, in the order it did. */
  received (uid: string, cid: string): Message[] {
    return this.#received.get(uid)!.filter((m) => m.cid === cid)
  }

  /** Connections back since the last disruption, "uid after N ms". */
  get back (): string[] {
    return [...this.#back]
  }

  /** The uids whose client is not connected right now. */
  get offline (): string[] {
    return [...this.#clients].filter(([, client]) => !client.connected).map(([uid]) => uid)
  }

  async close (): Promise<void> {
    await Promise.all([...this.#clients.values()].map(async (c) => { await c.close() }))
  }

  /**
   * Waits for every send to end: by its echo (the library re-sends with the same cmid until it
   * comes) or by failing — for as long as the clients keep moving (see STALL_MS). Reports the
   * failed ones and those still pending when everything stood still.
   */
  async settle (stallMs = STALL_MS): Promise<string[]> {
    const done = await this.#untilStalled(() => this.#settled.size === this.#sends.length, stallMs)
    return this.#sends.map(({ cmid }) => this.#settled.has(cmid) ? this.#settled.get(cmid) : `${cmid}: still pending${done ? '' : `, nothing moved for ${stallMs} ms`}`)
      .filter((failure): failure is string => failure !== undefined)
  }

  /** Resolves true once `done()`, or false once nothing has moved for `stallMs`. */
  async #untilStalled (done: () => boolean, stallMs: number): Promise<boolean> {
    let seen = this.#moves
    let movedAt = Date.now()
    for (;;) {
      if (done()) return true
      if (this.#moves !== seen) {
        seen = this.#moves
        movedAt = Date.now()
      } else if (Date.now() - movedAt > stallMs) {
        return false
      }
      await sleep(20)
    }
  }

  /**
   * Settles the sends, reads each chat's history and checks it: see the file's comment. Reports the
   * figures with `t.diagnostic` first, so that they show whatever fails.
   */
  async verify (t: TestContext, chats: Chat[], history: (cid: string) => Promise<Message[]>): Promise<Figures> {
    const failed = await this.settle()
    const stored = new Map<string, Message[]>()
    for (const { cid } of chats) stored.set(cid, await history(cid))
    const storedCmids = [...stored.values()].flat().map((m) => m.cmid)
    const figures: Figures = {
      sent: this.sent,
      acknowledged: this.#acknowledged.size,
      stored: storedCmids.length,
      lost: [...this.#acknowledged].filter((cmid) => !storedCmids.includes(cmid)),
      duplicated: storedCmids.length - new Set(storedCmids).size,
      resent: [...this.#attempts.values()].filter((a) => a > 1).length
    }
    t.diagnostic(`sent ${figures.sent}, acknowledged ${figures.acknowledged}, stored ${figures.stored}, lost ${figures.lost.length}, duplicated ${figures.duplicated}; ${figures.resent} sends published more than once, ${failed.length} failed`)
    t.diagnostic(`dropped connections: ${[...this.drops].map(([uid, n]) => `${uid} ×${n}`).join(', ') || 'none'}; connected again (since the last disruption): ${this.#back.join(', ') || 'none'}`)
    // A reconnect that fails with "connack timeout" is not nginx's doing: aedes 1.2 restores the
    // session's subscriptions before it writes the CONNACK, so a message arriving meanwhile goes
    // out first, and MQTT.js, holding that PUBLISH's PUBACK until it is connected, reads no further.
    t.diagnostic(`failed reconnect attempts: ${this.failedAttempts.join('; ') || 'none'}`)

    assert.deepEqual(failed, [], 'sends that did not end with their echo')
    assert.deepEqual(figures.lost, [], 'acknowledged but not stored')
    assert.equal(figures.duplicated, 0, 'stored twice')
    assert.equal(figures.acknowledged, figures.sent, 'every send acknowledged')
    assert.equal(figures.stored, figures.sent, 'every send stored once')
    for (const [cid, messages] of stored) assert.deepEqual(messages.map((m) => m.seq), range(1, messages.length), `${cid}: seq 1..N without a gap`)

    // every member's client handed out the same history, once, in order
    await this.#untilStalled(() => chats.every(({ cid, members }) => members.every((uid) => this.received(uid, cid).length >= stored.get(cid)!.length)), STALL_MS)
    await sleep(SETTLE_MS)
    for (const { cid, members } of chats) {
      const want = stored.get(cid)!.map((m) => `${m.seq}:${m.id}`)
      for (const uid of members) assert.deepEqual(this.received(uid, cid).map((m) => `${m.seq}:${m.id}`), want, `${uid}'s messages of ${cid}`)
    }
    return figures
  }
}
