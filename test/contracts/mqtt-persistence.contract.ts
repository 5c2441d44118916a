/**
 * The contract of the product's MQTT persistence (bounded-queue.ts on LevelDB, mongo-queue.ts on
 * MongoDB): aedes' persistence API plus our queue policy [IM-Q-1..5], `$` rules [MQTT-4.7.2-1],
 * retained lookups [IM-PERF-3], wills and session expiry [IM-SESSION-1], through the persistence
 * API only, as aedes calls it (mqtt-persistence.harness.ts). The cases are in
 * mqtt-queue.contract.ts (offline queues) and mqtt-session-state.contract.ts (subscriptions,
 * retained messages, wills, session expiry).
 *
 * Run it with a `build` that returns an empty store: `open` puts a persistence on it (called
 * again for a restart: a new broker and persistence on the same store), `close` removes it.
 */
import { storesFrom, type KnownGaps, type PersistenceBackend } from './mqtt-persistence.harness.js'
import { runQueueContract } from './mqtt-queue.contract.js'
import { runSessionStateContract } from './mqtt-session-state.contract.js'

export type { KnownGaps, PersistenceBackend, ProductPersistence } from './mqtt-persistence.harness.js'

export function runMqttPersistenceContract (build: () => Promise<PersistenceBackend>, known: KnownGaps = {}): void {
  const withStore = storesFrom(build)
  runQueueContract(withStore, known)
  runSessionStateContract(withStore)
}
