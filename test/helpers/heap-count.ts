/**
 * Counts live objects in this process's heap by prototype, after a full garbage collection,
 * through the inspector (`Runtime.queryObjects`, the DevTools console's `queryObjects()`): what a
 * heap snapshot would say of those classes, without writing one. For leak tests: the numbers are
 * object counts, not timings.
 */
import { Session } from 'node:inspector/promises'

const PROBE = '__heapCountProbe'

export class HeapCounter {
  readonly #session = new Session()
  readonly #prototypes: Record<string, object>

  /** `prototypes`: a name per prototype whose instances to count (e.g. `TurnWriter.prototype`). */
  constructor (prototypes: Record<string, object>) {
    this.#prototypes = prototypes
    this.#session.connect()
    ;(globalThis as Record<string, unknown>)[PROBE] = prototypes
  }

  async collectGarbage (): Promise<void> {
    await this.#session.post('HeapProfiler.collectGarbage')
    await this.#session.post('HeapProfiler.collectGarbage')
  }

  /** Live instances of each prototype after two full collections. */
  async count (): Promise<Record<string, number>> {
    await this.collectGarbage()
    const counts: Record<string, number> = {}
    for (const name of Object.keys(this.#prototypes)) {
      const { result } = await this.#session.post('Runtime.evaluate', { expression: `globalThis.${PROBE}[${JSON.stringify(name)}]` })
      if (!result.objectId) throw new Error(`heap-count: no prototype named ${name}`)
      const { objects } = await this.#session.post('Runtime.queryObjects', { prototypeObjectId: result.objectId })
      const length = await this.#session.post('Runtime.callFunctionOn', { objectId: objects.objectId, functionDeclaration: 'function () { return this.length }', returnByValue: true })
      counts[name] = length.result.value as number
      await this.#session.post('Runtime.releaseObject', { objectId: objects.objectId })
    }
    return counts
  }

  close (): void {
    delete (globalThis as Record<string, unknown>)[PROBE]
    this.#session.disconnect()
  }
}
