/**
 * The command dispatcher for `im/u/{uid}/out`: parse, then one exhaustive switch over `op`.
 * Commands of one principal run one after the other, in arrival order. A command that fails
 * becomes an `error` event on the sender's inbox — the connection stays — except an unexpected
 * internal failure, which also withholds the PUBACK. [IM-CMD-1]
 */
import { ImError } from '../../shared/errors.js'
import type { Command, SupportCommand } from '../../shared/protocol.js'
import type { SupportDesk } from '../support/desk.js'
import type { Logger } from '../ops/logger.js'
import { KeyedLock } from '../lib/keyed-lock.js'
import { salvageIds, type CommandParser } from './commands.js'
import type { Caller } from './conversations.js'
import type { EventPublisher } from './events.js'
import type { MessageService } from './messages.js'
import type { ReceiptService } from './receipts.js'

export interface OutboxDeps {
  parse: CommandParser
  messages: MessageService
  receipts: ReceiptService
  desk: SupportDesk
  events: EventPublisher
  log: Logger
  onCommand?: (op: string, outcome: 'ok' | 'error') => void
}

export class Outbox {
  readonly #deps: OutboxDeps
  readonly #serial = new KeyedLock()
  readonly #inFlight = new Set<Promise<void>>()

  constructor (deps: OutboxDeps) {
    this.#deps = deps
  }

  /** Handles one command; resolves when it is done (stored, fanned out) or reported as an error. */
  async handle (caller: Caller, payload: Buffer): Promise<void> {
    const work = this.#handle(caller, payload)
    this.#inFlight.add(work)
    try {
      await work
    } finally {
      this.#inFlight.delete(work)
    }
  }

  /** Resolves when the commands under way now are done (shutdown waits for them). */
  async idle (): Promise<void> {
    await Promise.allSettled([...this.#inFlight])
  }

  async #handle (caller: Caller, payload: Buffer): Promise<void> {
    await this.#serial.run(caller.uid, async () => {
      let command: Command | SupportCommand | undefined
      try {
        command = this.#deps.parse(payload)
        await this.#dispatch(caller, command)
        this.#deps.onCommand?.(command.op, 'ok')
      } catch (err) {
        const error = err instanceof ImError ? err : this.#internal(err, caller)
        const ids = command ? { op: command.op, ...('cmid' in command && command.cmid ? { cmid: command.cmid } : {}) } : salvageIds(payload)
        this.#deps.onCommand?.(command?.op ?? 'invalid', 'error')
        await this.#deps.events.toInbox(caller.uid, { ev: 'error', code: error.code, message: error.message, ...ids })
        // An unexpected failure (e.g. the store) must not be acknowledged: the client is
        // disconnected without a PUBACK and sends the command again. [IM-ACK-1]
        if (!(err instanceof ImError)) throw err
      }
    })
  }

  async #dispatch (caller: Caller, command: Command | SupportCommand): Promise<void> {
    const desk = this.#deps.desk
    switch (command.op) {
      case 'send': await this.#deps.messages.send(caller, command); return
      case 'read': await this.#deps.receipts.read(caller, command); return
      case 'typing': await this.#deps.receipts.typing(caller, command); return
      case 'recall': await this.#deps.messages.recall(caller, command); return
      case 'edit': await this.#deps.messages.edit(caller, command); return
      case 'support.open': await desk.open(caller, command.context); return
      case 'support.close': await desk.close(caller, command.cid, caller.role === 'visitor' ? 'visitor' : caller.role === 'admin' ? 'admin' : 'agent'); return
      case 'support.claim': await desk.claim(caller, command.cid); return
      case 'support.transfer': await desk.transfer(caller, command.cid, command.to); return
      case 'support.rate': await desk.rate(caller, command.cid, command.score, command.comment); return
      case 'agent.status': await desk.setStatus(caller, command.status, command.capacity); return
      default: {
        const unknown: never = command
        throw new ImError('IM_ERR_UNKNOWN_OP', `Unknown op ${JSON.stringify((unknown as { op: unknown }).op)}.`)
      }
    }
  }

  #internal (err: unknown, caller: Caller): ImError {
    this.#deps.log.error({ err, uid: caller.uid }, 'command failed')
    return new ImError('IM_ERR_INTERNAL')
  }
}
