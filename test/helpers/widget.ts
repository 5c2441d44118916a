/**
 * Helpers for the widget's browser tests: the bundle built once per test process (as
 * `npm run build` does), a plain host page on its own origin (a second HTTP server, so every
 * request to the broker is cross-origin as on a real site) that embeds the widget by the README's
 * snippet under a strict Content-Security-Policy, and shortcuts into the widget's shadow DOM.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { waitFor } from './mqtt.js'
import { buildWidget } from '../../scripts/build-widget.js'

let built: Promise<unknown> | undefined

export async function ensureWidgetBuilt (): Promise<void> {
  built ??= buildWidget()
  await built
}

export interface HostPageOptions {
  /** `data-*` attributes of the snippet besides `data-site` (e.g. `{ prechat: 'name,email' }`) */
  data?: Record<string, string>
  /** `<html lang>` */
  lang?: string
  /** place `<im-chat-widget>` in the markup instead of letting the script do it */
  element?: boolean
}

/** The CSP of the host page: the README's example, with the broker as the only other origin. */
export function hostCsp (brokerHttpUrl: string): string {
  const broker = new URL(brokerHttpUrl)
  const ws = `ws://${broker.host}`
  return [
    "default-src 'none'",
    `script-src 'self' ${broker.origin}`,
    `connect-src 'self' ${broker.origin} ${ws}`,
    "style-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'"
  ].join('; ')
}

export function hostPage (brokerHttpUrl: string, siteKey: string, o: HostPageOptions = {}): string {
  const data = Object.entries(o.data ?? {}).map(([k, v]) => ` data-${k}="${v}"`).join('')
  const script = o.element
    ? `<script src="${brokerHttpUrl}/widget.js" async></script>`
    : `<script src="${brokerHttpUrl}/widget.js" data-site="${siteKey}"${data} async></script>`
  const element = o.element ? `<im-chat-widget site="${siteKey}"${Object.entries(o.data ?? {}).map(([k, v]) => ` ${k}="${v}"`).join('')}></im-chat-widget>` : ''
  return `<!doctype html>
<html lang="${o.lang ?? 'en'}">
<head><meta charset="utf-8"><title>Shop</title><link rel="stylesheet" href="/host.css"></head>
<body>
  <h1>A plain host page</h1>
  <p class="host-text">Products and prices.</p>
  <button class="host-button">Buy</button>
  ${element}
  ${script}
</body>
</html>`
}

/** Styles of the host page that would leak into the widget without shadow DOM. */
const HOST_CSS = 'button { background: rgb(255, 0, 0) !important; font-size: 40px; } p { color: rgb(0, 128, 0); }' +
  // …and the widget's parts, which a site may style on purpose
  ' im-chat-widget::part(messages) { letter-spacing: 3px; } im-chat-widget::part(input) { letter-spacing: 4px; }'

export interface HostSite { url: string, server: Server, page (o?: HostPageOptions): string, close (): Promise<void> }

/** A host page server on 127.0.0.1 (its own port = its own origin). `?v=N` picks page variants set by `setPage`. */
export async function startHostSite (brokerHttpUrl: string, siteKey: string): Promise<HostSite & { setPage (o: HostPageOptions): void }> {
  let options: HostPageOptions = {}
  const server = createServer((req, res) => {
    if (req.url === '/host.css') {
      res.writeHead(200, { 'content-type': 'text/css' }).end(HOST_CSS)
      return
    }
    if (req.url === '/favicon.ico') { res.writeHead(404).end(); return }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': hostCsp(brokerHttpUrl) })
    res.end(hostPage(brokerHttpUrl, siteKey, options))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  return {
    url,
    server,
    page: (o = options) => hostPage(brokerHttpUrl, siteKey, o),
    setPage (o) { options = o },
    async close () {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

export interface WidgetPage {
  page: Page
  /** errors the page threw or logged, and CSP violations */
  errors: string[]
  /** the host API's events and the DOM `im-*` events, in order */
  events (): Promise<Array<{ source: 'api' | 'dom', name: string, detail: unknown }>>
}

/** Opens the host page and records errors, CSP violations and every widget event. */
export async function openHostPage (context: BrowserContext, url: string): Promise<WidgetPage> {
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`))
  page.on('console', (msg) => {
    // A dropped WebSocket while the broker is down is logged by Chromium; that is expected.
    if (msg.type() === 'error' && !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(msg.text())) errors.push(`console: ${msg.text()}`)
  })
  await page.addInitScript(() => {
    const w = window as unknown as { __imEvents: Array<{ source: string, name: string, detail: unknown }> }
    w.__imEvents = []
    document.addEventListener('securitypolicyviolation', (e) => {
      w.__imEvents.push({ source: 'csp', name: e.violatedDirective, detail: e.blockedURI })
    })
    // what a listener of im-ready finds: window.ImChat must be there already
    window.addEventListener('im-ready', () => { (w as unknown as { __apiAtReady: string }).__apiAtReady = typeof (window as { ImChat?: unknown }).ImChat })
    for (const name of ['ready', 'message', 'unread-count-changed', 'conversation-closed', 'open', 'close']) {
      window.addEventListener(`im-${name}`, (e) => { w.__imEvents.push({ source: 'dom', name, detail: JSON.parse(JSON.stringify((e as CustomEvent).detail)) }) })
    }
  })
  await page.goto(url)
  return {
    page,
    errors,
    events: async () => await page.evaluate(() => (window as unknown as { __imEvents: Array<{ source: 'api' | 'dom', name: string, detail: unknown }> }).__imEvents)
  }
}

/** The widget element (Playwright's locators pierce its open shadow roots). */
export function widget (page: Page): Locator {
  return page.locator('im-chat-widget')
}

export function launcher (page: Page): Locator {
  return widget(page).locator('button.launcher')
}

/** Opens the panel with a click and waits until the message box is there. */
export async function openPanel (page: Page): Promise<void> {
  await launcher(page).click()
  await composer(page).waitFor()
}

export function composer (page: Page): Locator {
  return widget(page).locator('im-chat-composer textarea')
}

/** Types a message and sends it with Enter. */
export async function sendFromWidget (page: Page, text: string): Promise<void> {
  await composer(page).fill(text)
  await composer(page).press('Enter')
}

/** The texts of the messages shown, in order. */
export async function shownTexts (page: Page): Promise<string[]> {
  return await widget(page).locator('im-message-list li.msg .bubble').allTextContents()
}

/** Waits until the shown texts are exactly `expected`. */
export async function waitForTexts (page: Page, expected: string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let shown: string[] = []
  while (Date.now() < deadline) {
    shown = await shownTexts(page)
    if (JSON.stringify(shown) === JSON.stringify(expected)) return
    await page.waitForTimeout(100)
  }
  assert.deepEqual(shown, expected)
}

/** The state (`sending`, `sent`, `read`, `failed`) of each own message shown. */
export async function ownStates (page: Page): Promise<string[]> {
  return await widget(page).locator('im-message-list li.msg.mine').evaluateAll((items) => items.map((li) => li.getAttribute('data-state') ?? ''))
}

/** The `data-seq` of every stored message shown, in order (own sends not stored yet are left out). */
export async function shownSeqs (page: Page): Promise<number[]> {
  return await widget(page).locator('im-message-list li.msg[data-seq]:not([data-seq=""])')
    .evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-seq'))))
}

/** The panel's quiet "Reconnecting…" banner (`role=status`, hidden while connected). */
export function reconnectBanner (page: Page): Locator {
  return widget(page).locator('im-chat-panel .banner[role=status]')
}

/** The visitor uid the widget stored for `siteKey` on this page's origin (undefined before it has one). */
export async function storedVisitorUid (page: Page, siteKey: string): Promise<string | undefined> {
  return await page.evaluate((key) => {
    const raw = localStorage.getItem(`im-chat:${key}:identity`)
    return raw === null ? undefined : (JSON.parse(raw) as { uid?: string }).uid
  }, siteKey)
}

/**
 * Makes the page look hidden (`true`) or visible again (`false`) and fires `visibilitychange`.
 * Headless Chromium always reports a page visible — minimizing the window or opening another tab
 * does not change `document.visibilityState` — so this signal, which a test cannot cause for real
 * there, is simulated: the two properties are shadowed on `document` and the event is dispatched.
 */
export async function setPageHidden (page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((hide) => {
    if (hide) {
      Object.defineProperty(document, 'visibilityState', { configurable: true, value: 'hidden' })
      Object.defineProperty(document, 'hidden', { configurable: true, value: true })
    } else {
      // Own properties gone, the prototype's getters answer again (the real state: visible).
      delete (document as { visibilityState?: unknown }).visibilityState
      delete (document as { hidden?: unknown }).hidden
    }
    document.dispatchEvent(new Event('visibilitychange'))
  }, hidden)
}

/**
 * Makes the browser forget the site's visitor (all pages of a context share localStorage): the
 * next host page gets a new identity. Done from a page of the host's origin without the widget.
 */
export async function forgetVisitor (context: BrowserContext, hostUrl: string): Promise<void> {
  const blank = await context.newPage()
  await blank.goto(new URL('/host.css', hostUrl).href) // same origin, no widget
  await blank.evaluate(() => { localStorage.clear() })
  await blank.close()
}

/** The visitor uid the widget stored for `siteKey`, once it has one. */
export async function visitorUid (page: Page, siteKey: string): Promise<string> {
  return await waitFor(async () => await storedVisitorUid(page, siteKey), 15_000, 'the widget has a visitor identity')
}

/** The focused element, through open shadow roots: `tag#id.class[name]`, e.g. `input[email]`. */
export async function focused (page: Page): Promise<string> {
  return await page.evaluate(() => {
    let el: Element | null = document.activeElement
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement
    if (!el) return ''
    const name = el.getAttribute('name')
    return `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.classList.length > 0 ? `.${[...el.classList].join('.')}` : ''}${name ? `[${name}]` : ''}`
  })
}

/** The unread badge on the launcher. */
export function badge (page: Page): Locator {
  return widget(page).locator('.badge')
}

/** The CSP violations the page reported (none expected on a strict page). */
export async function cspViolations (w: WidgetPage): Promise<unknown[]> {
  return (await w.events()).filter((e) => (e.source as string) === 'csp')
}
