/**
 * One load process of the comparison relay (`--load-procs N` of them, started by load-pool.ts):
 * runs its share of the publisher → subscriber pairs (lean-relay.ts) on the parent's orders, one
 * request at a time over the IPC channel, and exits when the parent goes away.
 */
import { RelayPairs, type FinalCounts, type PhaseReport, type RelaySetup } from './lean-relay.js'

export type WorkerRequest =
  | { id: number, type: 'connect', setup: RelaySetup }
  | { id: number, type: 'phase', phase: number, counts: number[], measure: boolean, stallMs: number }
  | { id: number, type: 'close' }

export type WorkerReply =
  | { id: number, ok: true, result: PhaseReport | FinalCounts | null }
  | { id: number, ok: false, error: string }

let relay: RelayPairs | undefined

async function handle (request: WorkerRequest): Promise<PhaseReport | FinalCounts | null> {
  switch (request.type) {
    case 'connect':
      relay = await RelayPairs.connect(request.setup)
      return null
    case 'phase':
      if (!relay) throw new Error('phase before connect')
      return await relay.runPhase(request.phase, request.counts, request.measure, request.stallMs)
    case 'close': {
      const counts = await relay?.close() ?? null
      relay = undefined
      return counts
    }
  }
}

process.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (result) => process.send?.({ id: request.id, ok: true, result } satisfies WorkerReply),
    (err: unknown) => process.send?.({ id: request.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply)
  )
})
process.on('disconnect', () => process.exit(0))
