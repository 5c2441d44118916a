/**
 * The command dispatcher for `im/u/{uid}/out`: parse, then one exhaustive switch over `op`.
 * Commands of one principal take effect in arrival order, and each is finished (acknowledged,
 * or reported as an error) in that order too. Sends overlap: a send lets the next command start
 * once its seq is taken, so a client's window of sends shares one store write (group commit);
 * any other command first waits until everything before it is finished. A command that fails
 * becomes an `error` event on the sender's inbox — the connection stays — except an unexpected
 * internal failure, which the first time also withholds the PUBACK (see repeated-failures.ts).
 * [IM-CMD-1]
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
import { RepeatedFailures } from './repeated-failures.js'

export interface OutboxDeps {
  parse: CommandParser
  messages: MessageService
  receipts: ReceiptService
  desk: SupportDesk
  events: EventPublisher
  log: Logger
  /** counts one command of `uid`; throws `IM_ERR_RATE_LIMITED` when over the rate [IM-LIMIT-1] */
  admit?: (uid: string) => void
  onCommand?: (op: string, outcome: 'ok' | 'error' | 'internal') => void
}

export class Outbox {
  readonly #deps: OutboxDeps
  readonly #serial = new KeyedLock()
  /** per principal: settles when its latest command is finished */
  readonly #finished = new Map<string, Promise<void>>()
  readonly #inFlight = new Set<Promise<void>>()
  readonly #failures = new RepeatedFailures()
  /** shutting down: new commands are refused unacknowledged, to go again through another node */
  #draining = false

  constructor (deps: OutboxDeps) {
    this.#deps = deps
  }

  /** Handles one command; resolves when it is done (stored, fanned out) or reported as an error. */
  async handle (caller: Caller, payload: Buffer): Promise<void> {
    // Not started, not acknowledged: the client is disconnected and sends it again (same cmid)
    // once it has reconnected — through the load balancer to another node, during a rolling restart.
    if (this.#draining) throw new ImError('IM_ERR_INTERNAL', 'This broker node is shutting down; send the command again after reconnecting.')
    const work = this.#handle(caller, payload)
    this.#inFlight.add(work)
    try {
      await work
    } finally {
      this.#inFlight.delete(work)
    }
  }

  /**
   * Shutdown: takes no new command, and resolves when the commands under way are done — so a
   * node under load stops in the time its commands take, not while its clients keep sending.
   */
  async drain (): Promise<void> {
    this.#draining = true
    await Promise.allSettled([...this.#inFlight])
  }

  async #handle (caller: Caller, payload: Buffer): Promise<void> {
    const uid = caller.uid
    // The rate is counted on arrival; the refusal is reported in order with the other commands.
    const limited = this.#admit(uid)
    const before = this.#finished.get(uid) ?? Promise.resolve()
    const started = this.#serial.run(uid, async () => await this.#start(caller, payload, limited, before))
    started.catch(() => undefined) // heard below, once the commands before it are finished
    const finished = before.then(async () => { await this.#finish(caller, payload, started) })
    const settled = finished.then(() => undefined, () => undefined)
    this.#finished.set(uid, settled)
    try {
      await finished
    } finally {
      if (this.#finished.get(uid) === settled) this.#finished.delete(uid)
    }
  }

  /** Takes the command's place: a send up to its seq, anything else entirely, after all before it. */
  async #start (caller: Caller, payload: Buffer, limited: ImError | undefined, before: Promise<void>): Promise<Started> {
    if (limited) throw new CommandFailure(limited) // nothing is parsed or stored; the PUBACK still goes out
    let command: Command | SupportCommand | undefined
    try {
      command = this.#deps.parse(payload)
      if (command.op === 'send') return { command, done: (await this.#deps.messages.begin(caller, command)).done }
      await before
      await this.#dispatch(caller, command)
      return { command, done: Promise.resolve() }
    } catch (err) {
      throw new CommandFailure(err, command)
    }
  }

  async #finish (caller: Caller, payload: Buffer, started: Promise<Started>): Promise<void> {
    let command: Command | SupportCommand | undefined
    try {
      const under = await started
      command = under.command
      await under.done
      this.#deps.onCommand?.(command.op, 'ok')
      this.#failures.succeeded(caller.uid, cmidOf(command), payload)
    } catch (failure) {
      const err = failure instanceof CommandFailure ? failure.error : failure
      command ??= failure instanceof CommandFailure ? failure.command : undefined
      const ids = command ? { op: command.op, ...(cmidOf(command) ? { cmid: cmidOf(command) } : {}) } : salvageIds(payload)
      const op = command?.op ?? 'invalid'
      if (err instanceof ImError) {
        this.#deps.onCommand?.(op, 'error')
        await this.#deps.events.toInbox(caller.uid, { ev: 'error', code: err.code, message: err.message, ...ids })
        return
      }
      this.#deps.onCommand?.(op, 'internal')
      const giveUp = this.#failures.failedBefore(caller.uid, ids.cmid, payload)
      this.#deps.log.error({ err, uid: caller.uid, ...ids }, giveUp
        ? 'command failed again; acknowledged with an error so the client moves on'
        : 'command failed; not acknowledged, the client sends it again')
      const error = new ImError('IM_ERR_INTERNAL')
      await this.#deps.events.toInbox(caller.uid, { ev: 'error', code: error.code, message: error.message, ...ids })
      // The first time, the PUBACK is withheld: the client is disconnected and sends the command
      // again, which heals a passing fault (the store was away). [IM-ACK-1] The second time it is
      // acknowledged, so one bad command cannot block everything queued behind it. [IM-ACK-2]
      if (!giveUp) throw err
    }
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

  #admit (uid: string): ImError | undefined {
    try {
      this.#deps.admit?.(uid)
      return undefined
    } catch (err) {
      if (err instanceof ImError) return err
      throw err
    }
  }

}

interface Started { command: Command | SupportCommand, done: Promise<unknown> }

/** A command that failed before it was under way, with what was parsed of it. */
class CommandFailure extends Error {
  constructor (readonly error: unknown, readonly command?: Command | SupportCommand) {
    super('command failed')
  }
}

function cmidOf (command: Command | SupportCommand): string | undefined {
  return 'cmid' in command && command.cmid ? command.cmid : undefined
}
