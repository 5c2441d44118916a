/**
 * What a page costs on the wire, as Chromium's network stack counts it: every request of a page
 * through the Chrome DevTools Protocol (`Network.*` events of a CDP session), with its status as
 * the server sent it (a revalidated file shows `304` here, though the page sees the cached `200`),
 * its `Content-Encoding`, whether the cache answered it, and `encodedDataLength` — the bytes that
 * came over the network for it, headers included.
 */
import type { CDPSession, Page } from 'playwright-core'
import { waitFor } from './mqtt.js'

export interface WireRequest {
  id: string
  method: string
  url: string
  /** the status the server answered (304 for a revalidation); undefined while unknown */
  status?: number
  contentEncoding?: string
  /** answered from the HTTP cache without asking the server */
  fromCache: boolean
  /** bytes received for it, headers included; set once it finished loading */
  encodedDataLength?: number
  failed?: string
}

export class WireLog {
  readonly #requests = new Map<string, WireRequest>()
  readonly #cdp: CDPSession

  private constructor (cdp: CDPSession) {
    this.#cdp = cdp
  }

  /** Starts recording `page` (before it navigates). */
  static async record (page: Page): Promise<WireLog> {
    const cdp = await page.context().newCDPSession(page)
    const log = new WireLog(cdp)
    const entry = (id: string): WireRequest | undefined => log.#requests.get(id)
    // The raw answer's status, by request: Chromium may send it before the request's own event.
    const raw = new Map<string, number>()
    cdp.on('Network.requestWillBeSent', (e) => {
      const status = raw.get(e.requestId)
      log.#requests.set(e.requestId, { id: e.requestId, method: e.request.method, url: e.request.url, fromCache: false, ...(status === undefined ? {} : { status }) })
    })
    cdp.on('Network.requestServedFromCache', (e) => { const r = entry(e.requestId); if (r) r.fromCache = true })
    cdp.on('Network.responseReceived', (e) => {
      const r = entry(e.requestId)
      if (!r) return
      r.status = raw.get(e.requestId) ?? r.status ?? e.response.status
      if (e.response.fromDiskCache) r.fromCache = true
      const encoding = Object.entries(e.response.headers).find(([name]) => name.toLowerCase() === 'content-encoding')?.[1]
      if (encoding !== undefined) r.contentEncoding = encoding
    })
    // The raw answer: for a revalidated file the 304 the server sent, not the 200 from the cache.
    cdp.on('Network.responseReceivedExtraInfo', (e) => {
      raw.set(e.requestId, e.statusCode)
      const r = entry(e.requestId)
      if (r) r.status = e.statusCode
    })
    cdp.on('Network.loadingFinished', (e) => { const r = entry(e.requestId); if (r) r.encodedDataLength = e.encodedDataLength })
    cdp.on('Network.loadingFailed', (e) => { const r = entry(e.requestId); if (r) r.failed = e.errorText })
    await cdp.send('Network.enable')
    return log
  }

  /** Every request so far, in the order they were made. */
  get requests (): WireRequest[] {
    return [...this.#requests.values()]
  }

  /** The requests so far whose URL path (`/widget.js`, `/api/v1/…`) matches, on any origin. */
  matching (path: RegExp, method = 'GET'): WireRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(new URL(r.url).pathname))
  }

  /** Waits until a request to `path` has finished loading (or failed), and answers it. */
  async finished (path: RegExp, method = 'GET', timeoutMs = 15_000): Promise<WireRequest> {
    return await waitFor(async () => this.matching(path, method).find((r) => r.encodedDataLength !== undefined || r.failed !== undefined),
      timeoutMs, `${method} ${String(path)} finished loading`)
  }

  /** Forgets what was recorded: the next view is counted alone. */
  clear (): void {
    this.#requests.clear()
  }

  async detach (): Promise<void> {
    await this.#cdp.detach().catch(() => undefined)
  }
}

/** The bytes `requests` took on the wire, headers included. */
export function wireBytes (requests: readonly WireRequest[]): number {
  return requests.reduce((sum, r) => sum + (r.encodedDataLength ?? 0), 0)
}
