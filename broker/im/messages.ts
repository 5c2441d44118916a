/**
 * `send`, `recall` and `edit`. Sending is a list of named steps [IM-CMD-SEND]:
 *
 *   authorize (membership) → persist (id, next seq, durable write) → fanOut (every member's inbox)
 *   → rankSupportChat (a visitor's first words move its waiting chat ahead [IM-SUPPORT-RANK])
 *
 * (validation happened in commands.ts). The steps run in the conversation's order, but only up to
 * the point where the message's seq is taken and its write and fan-out are lined up: the write
 * lands with the other sends of the turn (group commit) and the fan-out follows in seq order
 * (ordered-fan-out.ts). The command's PUBACK is sent only when the message is stored and fanned
 * out, so an acknowledged message is stored [IM-ACK-1]. A retried cmid skips nothing: `persist`
 * returns the original, and `fanOut` sends it again — clients drop the duplicate by `id`.
 */
import { randomUUID } from 'node:crypto'
import { ImError } from '../../shared/errors.js'
import type { Conversation, EditCommand, Message, RecallCommand, SendCommand } from '../../shared/protocol.js'
import type { MessageStore } from '../store/ports.js'
import type { Caller, ConversationService } from './conversations.js'
import type { EventPublisher } from './events.js'
import { KeyedLock } from '../lib/keyed-lock.js'
import { OrderedFanOut } from './ordered-fan-out.js'
import { runSteps, type Step } from './steps.js'

export interface MessageDeps {
  conversations: ConversationService
  messages: MessageStore
  events: EventPublisher
  now: () => number
  recallWindowMs: number
  /** a support chat's visitor wrote in it for the first time (the desk ranks the chat) */
  onVisitorWrote?: (cid: string, at: number) => Promise<void>
}

interface SendState {
  caller: Caller
  command: SendCommand
  conv?: Conversation
  stored?: Promise<Message>
  done?: Promise<Message>
}

/** A send under way: its place in the conversation is taken; `done` settles once stored and fanned out. */
export interface SendUnderWay { done: Promise<Message> }

export class MessageService {
  readonly #deps: MessageDeps
  readonly #sendSteps: ReadonlyArray<Step<SendState>>
  readonly #ordered = new KeyedLock()
  readonly #fanOut = new OrderedFanOut<Message>()

  constructor (deps: MessageDeps) {
    this.#deps = deps
    this.#sendSteps = [
      {
        name: 'authorize',
        run: async (s) => {
          s.conv = await deps.conversations.requireMember(s.command.cid, s.caller.uid)
          if (s.conv.support?.state === 'closed') throw new ImError('IM_ERR_CONVERSATION_CLOSED')
          await deps.conversations.acceptIfPending(s.conv, s.caller.uid)
        }
      },
      {
        name: 'persist',
        run: async (s) => {
          const { cmid, cid, type, body } = s.command
          // started, not awaited: the seq is taken now, the write lands with the turn's batch
          s.stored = deps.messages.append({ id: randomUUID(), cid, from: s.caller.uid, ts: deps.now(), type, body, cmid }).then((r) => r.message)
        }
      },
      {
        name: 'fanOut',
        run: async (s) => {
          const members = memberUids(s.conv!)
          s.done = this.#fanOut.join(s.command.cid, s.stored!, async (msg) => { await deps.events.toInboxes(members, { ev: 'msg', msg }) })
          s.done.catch(() => undefined) // heard by whoever awaits `done`; not an unhandled rejection meanwhile
        }
      },
      {
        name: 'rankSupportChat',
        run: async (s) => {
          const support = s.conv!.support
          const ranked = deps.onVisitorWrote
          if (!ranked || support?.visitor !== s.caller.uid || support.wroteAt !== undefined) return
          // before the PUBACK: once the visitor's first message is acknowledged, its chat is ranked
          s.done = s.done!.then(async (msg) => { await ranked(msg.cid, msg.ts); return msg })
          s.done.catch(() => undefined)
        }
      }
    ]
  }

  async send (caller: Caller, command: SendCommand): Promise<Message> {
    return await (await this.begin(caller, command)).done
  }

  /**
   * Starts a send; resolves once its seq is taken, so that the next command may start. Every
   * inbox receives a conversation's messages in seq order. [IM-SYNC-2]
   */
  async begin (caller: Caller, command: SendCommand): Promise<SendUnderWay> {
    const state = await this.#ordered.run(command.cid, async () => await runSteps<SendState>({ caller, command }, this.#sendSteps))
    return { done: state.done! }
  }

  async recall (caller: Caller, command: RecallCommand): Promise<Message> {
    const { conv, message } = await this.#ownMessage(caller, command.cid, command.id)
    const recalled: Message = message.recalledAt !== undefined ? message : { ...message, body: null, recalledAt: this.#deps.now() }
    if (recalled !== message) await this.#deps.messages.update(recalled)
    await this.#deps.events.toInboxes(memberUids(conv), { ev: 'recall', cid: conv.cid, id: recalled.id, seq: recalled.seq, by: caller.uid, recalledAt: recalled.recalledAt! })
    return recalled
  }

  async edit (caller: Caller, command: EditCommand): Promise<Message> {
    const { conv, message } = await this.#ownMessage(caller, command.cid, command.id)
    if (message.recalledAt !== undefined) throw new ImError('IM_ERR_NOT_FOUND', 'This message was recalled.')
    if (message.type !== 'text') throw new ImError('IM_ERR_BAD_REQUEST', 'Only text messages can be edited.')
    const edited: Message = { ...message, body: command.body, editedAt: this.#deps.now() }
    await this.#deps.messages.update(edited)
    await this.#deps.events.toInboxes(memberUids(conv), { ev: 'edit', msg: edited })
    return edited
  }

  /** The caller's own message, still inside the recall window. [IM-CMD-RECALL] */
  async #ownMessage (caller: Caller, cid: string, id: string): Promise<{ conv: Conversation, message: Message }> {
    const conv = await this.#deps.conversations.requireMember(cid, caller.uid)
    const message = await this.#deps.messages.get(cid, id)
    if (!message) throw new ImError('IM_ERR_NOT_FOUND', 'No such message.')
    if (message.from !== caller.uid) throw new ImError('IM_ERR_NOT_AUTHOR')
    if (this.#deps.now() - message.ts > this.#deps.recallWindowMs) throw new ImError('IM_ERR_RECALL_WINDOW')
    return { conv, message }
  }
}

/** The uids a conversation's events go to: its members; a held invitee is none (im/invitations.ts). */
export function memberUids (conv: Conversation): string[] {
  return conv.members.flatMap((m) => (m.held === true ? [] : [m.uid]))
}
