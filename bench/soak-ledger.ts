/**
 * The soak's bookkeeping of deliveries, held against the stored history at the end:
 *
 * - every `send` a user made, and whether the broker acknowledged it (PUBACK: stored [IM-ACK-1]);
 * - every `msg` event that reached a member over MQTT — its persistent session, live or queued
 *   while it was away — per member and message id; the client library's HTTP catch-up is not used,
 *   so a message the session never delivered stays missing;
 * - the commands the controller published to each device (QoS 1, acknowledged) and what reached
 *   the device's persistent session.
 *
 * `check` reads each conversation's history and counts: `lost` (acknowledged, not stored),
 * `storedTwice` (one cmid stored under two seqs), `heldBack` (stored, yet never delivered to a
 * member — its sender's echo included — by the end, when every member has been connected for a
 * while), `redelivered` (a message delivered to one member more than once: QoS 1 after an abrupt
 * disconnect; allowed, reported).
 */
import type { Message } from '../shared/protocol.js'

export interface Chat { cid: string, members: string[] }

export interface DeliveryCheck {
  sent: number
  acknowledged: number
  stored: number
  lost: string[]
  storedTwice: number
  /** `uid: cid#seq (from sender)` for each member a stored message never reached */
  heldBack: string[]
  redelivered: number
  devices: { sent: number, acknowledged: number, heldBack: string[], redelivered: number }
}

export class DeliveryLedger {
  readonly #sends = new Map<string, { uid: string, cid: string, acknowledged: boolean }>()
  /** uid → message id → copies received */
  readonly #received = new Map<string, Map<string, number>>()
  /** device uid → command seq → acknowledged to the controller */
  readonly #commands = new Map<string, Map<number, boolean>>()
  /** device uid → command seq → copies received */
  readonly #commandsReceived = new Map<string, Map<number, number>>()
  /** every copy received, messages and commands */
  #copies = 0

  sent (uid: string, cid: string, cmid: string): void {
    this.#sends.set(cmid, { uid, cid, acknowledged: false })
  }

  acknowledged (cmid: string): void {
    const send = this.#sends.get(cmid)
    if (send) send.acknowledged = true
  }

  received (uid: string, message: Message): void {
    let copies = this.#received.get(uid)
    if (!copies) this.#received.set(uid, copies = new Map())
    copies.set(message.id, (copies.get(message.id) ?? 0) + 1)
    this.#copies++
  }

  commandSent (device: string, seq: number): void {
    let sent = this.#commands.get(device)
    if (!sent) this.#commands.set(device, sent = new Map())
    sent.set(seq, false)
  }

  commandAcknowledged (device: string, seq: number): void {
    this.#commands.get(device)?.set(seq, true)
  }

  commandReceived (device: string, seq: number): void {
    let copies = this.#commandsReceived.get(device)
    if (!copies) this.#commandsReceived.set(device, copies = new Map())
    copies.set(seq, (copies.get(seq) ?? 0) + 1)
    this.#copies++
  }

  /** The figures so far, without the history (for the per-minute lines). */
  get counts (): { sent: number, acknowledged: number, commands: number, received: number } {
    let acknowledged = 0
    for (const send of this.#sends.values()) if (send.acknowledged) acknowledged++
    let commands = 0
    for (const sent of this.#commands.values()) commands += sent.size
    return { sent: this.#sends.size, acknowledged, commands, received: this.#copies }
  }

  async check (chats: Chat[], history: (cid: string, reader: string) => Promise<Message[]>): Promise<DeliveryCheck> {
    const storedCmids = new Set<string>()
    let stored = 0
    let storedTwice = 0
    const heldBack: string[] = []
    for (const { cid, members } of chats) {
      for (const message of await history(cid, members[0]!)) {
        stored++
        if (storedCmids.has(message.cmid)) storedTwice++
        storedCmids.add(message.cmid)
        for (const uid of members) {
          if ((this.#received.get(uid)?.get(message.id) ?? 0) === 0) heldBack.push(`${uid}: ${cid}#${message.seq} (from ${message.from})`)
        }
      }
    }
    const acknowledged = [...this.#sends].filter(([, s]) => s.acknowledged)
    let redelivered = 0
    for (const copies of this.#received.values()) for (const n of copies.values()) redelivered += Math.max(0, n - 1)
    return {
      sent: this.#sends.size,
      acknowledged: acknowledged.length,
      stored,
      lost: acknowledged.filter(([cmid]) => !storedCmids.has(cmid)).map(([cmid]) => cmid),
      storedTwice,
      heldBack,
      redelivered,
      devices: this.#checkDevices()
    }
  }

  /** A command acknowledged to the controller must reach its device's session, once or more. */
  #checkDevices (): DeliveryCheck['devices'] {
    let sent = 0
    let acknowledged = 0
    let redelivered = 0
    const heldBack: string[] = []
    for (const [device, commands] of this.#commands) {
      const copies = this.#commandsReceived.get(device)
      for (const [seq, acked] of commands) {
        sent++
        if (!acked) continue
        acknowledged++
        const n = copies?.get(seq) ?? 0
        if (n === 0) heldBack.push(`${device}: command ${seq}`)
        redelivered += Math.max(0, n - 1)
      }
    }
    return { sent, acknowledged, heldBack, redelivered }
  }
}
