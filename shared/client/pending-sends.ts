/**
 * Sends the application made and the server has not yet confirmed. A send is done when its echo —
 * the `msg` event with the same `cmid` — arrives [IM-CMD-SEND]; until then it is re-published,
 * always with the same cmid so the server stores it once [IM-IDEM-1]:
 *
 * - after every reconnect, every unconfirmed send goes out again, in the order it was made;
 * - while connected, a send PUBACKed (so stored [IM-ACK-1]) whose echo has not come within
 *   `echoTimeoutMs` goes out again (the server answers with the original as the echo).
 *
 * Status: `queued` (waiting for a connection) → `sending` (published, no PUBACK yet) → `stored`
 * (PUBACK, no echo yet). It ends with the echo (resolve) or an `error` event for the cmid, a
 * cancel, or the client closing (reject).
 */
import type { Message, SendCommand } from '../protocol.js'
import type { TimerHandle, Timers } from './timers.js'

export type PendingStatus = 'queued' | 'sending' | 'stored'

export interface PendingMessage {
  readonly cmid: string
  readonly cid: string
  readonly type: SendCommand['type']
  readonly body: SendCommand['body']
  readonly status: PendingStatus
  /** how many times it was published */
  readonly attempts: number
  readonly createdAt: number
}

export interface PendingSendsDeps {
  /** resolves on PUBACK; rejects when the connection ends first */
  publish (command: SendCommand): Promise<void>
  timers: Timers
  echoTimeoutMs: number
  /** a send was added or changed status */
  changed (pending: PendingMessage): void
}

interface Entry {
  readonly command: SendCommand
  readonly createdAt: number
  readonly promise: Promise<Message>
  readonly resolve: (message: Message) => void
  readonly reject: (error: Error) => void
  status: PendingStatus
  attempts: number
  /** bumped by every publish and by going offline, so a late PUBACK of an old attempt is ignored */
  attempt: number
  timer: TimerHandle | null
}

export class PendingSends {
  readonly #deps: PendingSendsDeps
  readonly #entries = new Map<string, Entry>()
  #online = false

  constructor (deps: PendingSendsDeps) {
    this.#deps = deps
  }

  /** Tracks a send and publishes it when connected. The same cmid twice gives the same promise. */
  add (command: SendCommand): Promise<Message> {
    const existing = this.#entries.get(command.cmid)
    if (existing) return existing.promise
    let resolve!: (message: Message) => void
    let reject!: (error: Error) => void
    const promise = new Promise<Message>((res, rej) => { resolve = res; reject = rej })
    // The `failed` event reports a failure too: an application that only listens to events must
    // not get an unhandled rejection. Whoever awaits the promise still sees it.
    promise.catch(() => undefined)
    const entry: Entry = { command, createdAt: this.#deps.timers.now(), promise, resolve, reject, status: 'queued', attempts: 0, attempt: 0, timer: null }
    this.#entries.set(command.cmid, entry)
    this.#deps.changed(view(entry))
    if (this.#online) this.#publish(entry)
    return promise
  }

  list (): PendingMessage[] {
    return [...this.#entries.values()].map(view)
  }

  has (cmid: string): boolean {
    return this.#entries.has(cmid)
  }

  /** Connected (inbox subscribed): every unconfirmed send goes out again, oldest first. */
  online (): void {
    this.#online = true
    for (const entry of this.#entries.values()) this.#publish(entry)
  }

  offline (): void {
    this.#online = false
    for (const entry of this.#entries.values()) {
      entry.attempt++
      this.#clearTimer(entry)
      this.#setStatus(entry, 'queued')
    }
  }

  /** A `msg` event: the echo of a pending send completes it. */
  ack (message: Message): PendingMessage | undefined {
    const entry = this.#entries.get(message.cmid)
    if (!entry || entry.command.cid !== message.cid) return undefined
    this.#remove(entry)
    entry.resolve(message)
    return view(entry)
  }

  /** An `error` event for the cmid, or a cancel. */
  fail (cmid: string, error: Error): PendingMessage | undefined {
    const entry = this.#entries.get(cmid)
    if (!entry) return undefined
    this.#remove(entry)
    entry.reject(error)
    return view(entry)
  }

  failAll (error: Error): PendingMessage[] {
    return [...this.#entries.keys()].map((cmid) => this.fail(cmid, error)).filter((p): p is PendingMessage => p !== undefined)
  }

  #publish (entry: Entry): void {
    const attempt = ++entry.attempt
    entry.attempts++
    this.#clearTimer(entry)
    this.#setStatus(entry, 'sending', true)
    const current = (): boolean => entry.attempt === attempt && this.#entries.get(entry.command.cmid) === entry
    this.#deps.publish(entry.command).then(() => {
      if (!current()) return
      this.#setStatus(entry, 'stored')
      entry.timer = this.#deps.timers.setTimeout(() => {
        entry.timer = null
        if (current() && this.#online) this.#publish(entry)
      }, this.#deps.echoTimeoutMs)
    }, () => {
      // The connection ended first; the next `online()` publishes it again.
      if (current()) this.#setStatus(entry, 'queued')
    })
  }

  #setStatus (entry: Entry, status: PendingStatus, always = false): void {
    if (entry.status === status && !always) return
    entry.status = status
    this.#deps.changed(view(entry))
  }

  #remove (entry: Entry): void {
    this.#clearTimer(entry)
    entry.attempt++
    this.#entries.delete(entry.command.cmid)
  }

  #clearTimer (entry: Entry): void {
    if (entry.timer === null) return
    this.#deps.timers.clearTimeout(entry.timer)
    entry.timer = null
  }
}

function view (entry: Entry): PendingMessage {
  const { cmid, cid, type, body } = entry.command
  return { cmid, cid, type, body, status: entry.status, attempts: entry.attempts, createdAt: entry.createdAt }
}
