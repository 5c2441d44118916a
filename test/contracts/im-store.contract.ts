/**
 * The contract every `ConversationStore` + `MessageStore` pair must meet, whatever the database
 * (the embedded LevelDB today, MongoDB next). Run it with a `build` that returns fresh, empty
 * stores sharing one database (and a `close`). Only the ports are used here, so an
 * implementation passes by behaving, not by how it keys its data. [IM-SEQ-1] [IM-IDEM-1] [IM-READ-2]
 */
import { runConversationStoreContract } from './conversation-store.contract.js'
import type { ImStoreFixture } from './im-store.fixtures.js'
import { runMessageStoreContract } from './message-store.contract.js'

export type { ImStoreFixture }

export function runImStoreContract (build: () => Promise<ImStoreFixture>): void {
  runConversationStoreContract(build)
  runMessageStoreContract(build)
}
