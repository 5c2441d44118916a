/** `read` receipts and `typing` indicators. [IM-CMD-READ], [IM-CMD-TYPING] */
import { TYPING_TTL_MS, type ReadCommand, type TypingCommand } from '../../shared/protocol.js'
import type { ConversationStore } from '../store/ports.js'
import type { Caller, ConversationService } from './conversations.js'
import type { EventPublisher } from './events.js'
import { memberUids } from './messages.js'

export interface ReceiptDeps {
  conversations: ConversationService
  store: ConversationStore
  events: EventPublisher
  now: () => number
}

export class ReceiptService {
  readonly #deps: ReceiptDeps

  constructor (deps: ReceiptDeps) {
    this.#deps = deps
  }

  /** Moves the caller's read position forward; every member hears of it. */
  async read (caller: Caller, { cid, seq }: ReadCommand): Promise<number> {
    const conv = await this.#deps.conversations.requireMember(cid, caller.uid)
    await this.#deps.conversations.acceptIfPending(conv, caller.uid)
    const position = await this.#deps.store.markRead(cid, caller.uid, seq)
    await this.#deps.events.toInboxes(memberUids(conv), { ev: 'read', cid, uid: caller.uid, seq: position })
    return position
  }

  /** Relayed at QoS 0 to the other members, never stored; it expires by itself. */
  async typing (caller: Caller, { cid, on }: TypingCommand): Promise<void> {
    const conv = await this.#deps.conversations.requireMember(cid, caller.uid)
    const others = memberUids(conv).filter((uid) => uid !== caller.uid)
    await this.#deps.events.toInboxes(others, { ev: 'typing', cid, uid: caller.uid, on, expiresAt: this.#deps.now() + TYPING_TTL_MS }, 0)
  }
}
