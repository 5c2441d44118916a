/**
 * The events arriving on one principal's inbox `im/u/{uid}/in`, for runs that wait for one answer
 * at a time: `next` resolves with the arrival time of the first event that matches (register it
 * before sending the command), or `undefined` when none came in time — a loss. An `error` event,
 * or anything that is not an event on this inbox, fails every waiter: the run stops with it.
 * A `msg` event whose message id came before counts as a duplicate.
 */
import type { MqttClient } from 'mqtt'
import type { ServerEvent } from '../shared/protocol.js'
import { topics } from '../shared/topics.js'

export interface Arrival<E extends ServerEvent = ServerEvent> { at: number, event: E }

interface Waiter {
  match: (event: ServerEvent) => boolean
  resolve: (arrival: Arrival | undefined) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class InboxEvents {
  duplicates = 0
  readonly #topic: string
  readonly #messageIds = new Set<string>()
  #waiters: Waiter[] = []
  #failure: Error | undefined

  constructor (client: MqttClient, readonly uid: string) {
    this.#topic = topics.inbox(uid)
    client.on('message', (topic, payload) => { this.#arrived(topic, payload, performance.now()) })
  }

  next<E extends ServerEvent> (match: (event: ServerEvent) => event is E, timeoutMs: number): Promise<Arrival<E> | undefined> {
    if (this.#failure) return Promise.reject(this.#failure)
    return new Promise<Arrival<E> | undefined>((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: resolve as (arrival: Arrival | undefined) => void,
        reject,
        timer: setTimeout(() => { this.#drop(waiter); resolve(undefined) }, timeoutMs)
      }
      this.#waiters.push(waiter)
    })
  }

  #arrived (topic: string, payload: Buffer, at: number): void {
    let event: ServerEvent
    try {
      if (topic !== this.#topic) throw new Error(`a message on ${topic}`)
      event = JSON.parse(payload.toString()) as ServerEvent
    } catch (err) {
      this.#fail(new Error(`${this.uid}: not an event on its inbox (${err instanceof Error ? err.message : String(err)})`))
      return
    }
    if (event.ev === 'error') {
      this.#fail(new Error(`${this.uid}: error event ${event.code} for ${event.op ?? 'a command'}: ${event.message}`))
      return
    }
    if (event.ev === 'msg') {
      if (this.#messageIds.has(event.msg.id)) this.duplicates++
      this.#messageIds.add(event.msg.id)
    }
    for (const waiter of [...this.#waiters]) {
      if (!waiter.match(event)) continue
      this.#drop(waiter)
      waiter.resolve({ at, event })
    }
  }

  #fail (err: Error): void {
    this.#failure ??= err
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer)
      waiter.reject(err)
    }
    this.#waiters = []
  }

  #drop (waiter: Waiter): void {
    clearTimeout(waiter.timer)
    this.#waiters = this.#waiters.filter((w) => w !== waiter)
  }
}
