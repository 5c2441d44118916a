/**
 * The broker's heap, read from outside through the V8 inspector: the broker child is started with
 * `--inspect=127.0.0.1:0` (a port the kernel picks, on loopback only, for the bench's lifetime) and
 * prints `Debugger listening on ws://127.0.0.1:{port}/{id}`; the bench connects to that address
 * and speaks the Chrome DevTools Protocol over it. Nothing in the broker's code changes, and no
 * flag a production start would not have but this one.
 *
 * - `heapAfterGc`: `HeapProfiler.collectGarbage` (V8's low-memory notification: full, compacting
 *   collections), twice, then `Runtime.getHeapUsage`: the heap the broker's objects still hold.
 * - `snapshot`: `HeapProfiler.takeHeapSnapshot` (itself preceded by a full GC), streamed to a file
 *   as V8 hands out its chunks (heap-snapshot.ts reads it).
 */
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import WebSocket from 'ws'

/** `Debugger listening on ws://…`: where the broker's inspector listens. */
export const INSPECTOR_LINE = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/

interface Reply { id?: number, method?: string, params?: Record<string, unknown>, result?: Record<string, unknown>, error?: { message: string } }

const CALL_TIMEOUT_MS = 120_000

export class Inspector {
  readonly #socket: WebSocket
  readonly #calls = new Map<number, { resolve: (result: Record<string, unknown>) => void, reject: (err: Error) => void }>()
  readonly #events = new Map<string, (params: Record<string, unknown>) => void>()
  #next = 1

  private constructor (socket: WebSocket) {
    this.#socket = socket
    socket.on('message', (data) => { this.#receive(JSON.parse(String(data)) as Reply) })
    socket.on('close', () => {
      for (const call of this.#calls.values()) call.reject(new Error('the inspector connection closed'))
      this.#calls.clear()
    })
  }

  static async connect (url: string): Promise<Inspector> {
    // no per-message deflate: a heap snapshot is tens of MB in chunks, compressing them is waste
    const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 0 })
    await once(socket, 'open')
    return new Inspector(socket)
  }

  /** Bytes the broker's JavaScript heap holds after two full collections. */
  async heapAfterGc (): Promise<{ usedBytes: number, totalBytes: number }> {
    await this.call('HeapProfiler.collectGarbage')
    await this.call('HeapProfiler.collectGarbage')
    const usage = await this.call('Runtime.getHeapUsage')
    return { usedBytes: Number(usage.usedSize), totalBytes: Number(usage.totalSize) }
  }

  /** Writes a heap snapshot of the broker to `file` (`.heapsnapshot`, as Chrome's DevTools load it). */
  async snapshot (file: string): Promise<void> {
    const out = createWriteStream(file)
    let failed: Error | undefined
    out.on('error', (err) => { failed = err })
    this.#events.set('HeapProfiler.addHeapSnapshotChunk', (params) => { out.write(String(params.chunk)) })
    try {
      await this.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false, captureNumericValue: false })
    } finally {
      this.#events.delete('HeapProfiler.addHeapSnapshotChunk')
      out.end()
      await once(out, 'close')
    }
    if (failed) throw failed
  }

  async call (method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#next++
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.#calls.delete(id); reject(new Error(`${method}: no answer from the broker's inspector in ${CALL_TIMEOUT_MS / 1000} s`)) }, CALL_TIMEOUT_MS)
      this.#calls.set(id, {
        resolve: (result) => { clearTimeout(timer); resolve(result) },
        reject: (err) => { clearTimeout(timer); reject(err) }
      })
      this.#socket.send(JSON.stringify({ id, method, params }))
    })
  }

  close (): void {
    this.#socket.close()
  }

  #receive (reply: Reply): void {
    if (reply.id === undefined) {
      if (reply.method !== undefined) this.#events.get(reply.method)?.(reply.params ?? {})
      return
    }
    const call = this.#calls.get(reply.id)
    if (!call) return
    this.#calls.delete(reply.id)
    if (reply.error) call.reject(new Error(reply.error.message))
    else call.resolve(reply.result ?? {})
  }
}
