/**
 * What the widget and the console cost on the wire in a real Chromium, counted by its own network
 * stack (CDP `Network.loadingFinished` encodedDataLength, headers included): brotli for every
 * script, a repeat page view of a host site paying a `304` for `widget.js` and nothing for the
 * chunks, one look at the visitor's chat when the panel opens, and the console's sign-in page
 * loading without the desk, which comes after sign-in. Byte counts only, never timings.
 *
 * Needs Debian's chromium at /usr/bin/chromium (.ci/run installs it); without it the suite is
 * skipped with a loud warning, never faked.
 */
import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import { CONSOLE_OUT_DIR } from '../../scripts/build-console.js'
import { WIDGET_OUT_DIR } from '../../scripts/build-widget.js'
import { ensureConsoleBuilt, haveChromium, launchChromium, newConsolePage, CHROMIUM_PATH, type Browser } from '../helpers/console.js'
import { api, createUser } from '../helpers/http.js'
import { DeskFixture } from '../helpers/support.js'
import { ensureWidgetBuilt, forgetVisitor, launcher, openHostPage, openPanel, ownStates, sendFromWidget, startHostSite, waitForTexts } from '../helpers/widget.js'
import { waitFor } from '../helpers/mqtt.js'
import { WireLog, wireBytes, type WireRequest } from '../helpers/wire.js'

const CHROMIUM = haveChromium()
if (!CHROMIUM) {
  process.stderr.write(`\n${'!'.repeat(78)}\n!!! SKIPPED: the wire-weight browser tests need Chromium at ${CHROMIUM_PATH}.\n!!! Install it (apt-get install chromium) — .ci/run does — to run them.\n${'!'.repeat(78)}\n\n`)
}
const skip = CHROMIUM ? false : `Chromium is not installed at ${CHROMIUM_PATH}`

/** A repeat view's revalidation: the 304's status line and headers, and nothing else. */
const REVALIDATION_BYTES = 1000
/** Room for a 200's headers on top of its body. */
const HEADER_BYTES = 1000

/** The size of the build's `<file>.br`: the body brotli answers carry. */
const brSize = (dir: string, file: string): number => statSync(join(dir, `${file}.br`)).size
/** The file of the bundle a request fetched (`/console` is index.html). */
const fileOf = (r: WireRequest): string => {
  const path = new URL(r.url).pathname
  return path === '/console' ? 'index.html' : path.split('/').pop() ?? ''
}

/** A script or page of the bundle came brotli-compressed, its body the build's `.br` file. */
function assertBrotli (r: WireRequest, dir: string): void {
  assert.equal(r.status, 200, r.url)
  assert.equal(r.contentEncoding, 'br', `${r.url} comes brotli-compressed`)
  const body = brSize(dir, fileOf(r))
  assert.ok((r.encodedDataLength ?? 0) >= body && (r.encodedDataLength ?? 0) <= body + HEADER_BYTES,
    `${r.url}: ${r.encodedDataLength} bytes on the wire for a ${body}-byte brotli body`)
}

describe('what the pages pay on the wire', { skip }, () => {
  let desk: DeskFixture
  let browser: Browser
  let site: Awaited<ReturnType<typeof startHostSite>>

  before(async () => {
    await Promise.all([ensureWidgetBuilt(), ensureConsoleBuilt()])
    desk = await DeskFixture.start()
    site = await startHostSite(desk.http, desk.siteKey)
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    await site?.close()
    await desk?.stop()
  })

  /** The host page in a new tab with its network recorded. */
  const view = async (): Promise<{ page: Page, wire: WireLog }> => {
    const page = await browser.context.newPage()
    const wire = await WireLog.record(page)
    await page.goto(site.url)
    await launcher(page).waitFor()
    await wire.finished(/^\/widget\.js$/)
    return { page, wire }
  }
  const fromBroker = (wire: WireLog): WireRequest[] => wire.requests.filter((r) => r.url.startsWith(desk.http))

  it('sends widget.js brotli-compressed, and a repeat page view pays a 304 of under 1 KB for it', async (t) => {
    await forgetVisitor(browser.context, site.url)
    const first = await view()
    const [launcherScript] = first.wire.matching(/^\/widget\.js$/)
    assertBrotli(launcherScript!, WIDGET_OUT_DIR)
    assert.deepEqual(fromBroker(first.wire).map((r) => new URL(r.url).pathname), ['/widget.js'], 'a page view loads the launcher alone')

    // the first view's download is in the HTTP cache only once it is complete: a busy machine
    // could otherwise start the repeat view before Chromium has stored it
    await first.page.waitForLoadState('networkidle')
    const repeat = await view()
    await first.page.close()
    const again = repeat.wire.matching(/^\/widget\.js$/)
    assert.equal(again.length, 1)
    assert.equal(again[0]?.status, 304, 'widget.js is revalidated, not downloaded again')
    const paid = wireBytes(fromBroker(repeat.wire))
    assert.ok(paid <= REVALIDATION_BYTES, `a repeat page view costs ${paid} bytes from the broker`)
    t.diagnostic(`widget.js on the wire: ${launcherScript?.encodedDataLength} bytes on a first view, ${paid} on a repeat view`)
    await repeat.page.close()
  })

  it('sends every chunk brotli-compressed when the panel opens, and asks for the visitor\'s chat once', async (t) => {
    await forgetVisitor(browser.context, site.url)
    const { page, wire } = await view()
    await openPanel(page)
    // ImClient's sync after the connect: the session's own look at the chat went out before it.
    await wire.finished(/^\/api\/v1\/conversations$/)
    const chunks = wire.matching(/^\/widget\/.+\.js$/)
    assert.deepEqual(chunks.map((r) => fileOf(r).replace(/-[A-Z0-9]{8}\.js$/, '')).sort(), ['chunk', 'engine', 'panel'])
    for (const chunk of chunks) assertBrotli(await wire.finished(new RegExp(`^${new URL(chunk.url).pathname}$`)), WIDGET_OUT_DIR)
    assert.equal(wire.matching(/^\/api\/v1\/support\/conversations$/).length, 1, 'a new visitor\'s chat is looked up once')
    t.diagnostic(`the chunks on the wire when the panel opens: ${wireBytes(chunks)} bytes`)
    await page.close()
  })

  it('looks up a returning visitor\'s chat once after a reload, and takes the chunks from the cache', async () => {
    await forgetVisitor(browser.context, site.url)
    const host = await openHostPage(browser.context, site.url)
    const { page } = host
    await openPanel(page)
    await sendFromWidget(page, 'Where is my parcel?')
    await waitFor(async () => (await ownStates(page))[0] === 'sent', 15_000, 'the message is stored')

    const wire = await WireLog.record(page)
    await page.reload()
    await launcher(page).waitFor()
    await openPanel(page)
    await waitForTexts(page, ['Where is my parcel?'])
    await wire.finished(/^\/api\/v1\/conversations$/)
    assert.equal(wire.matching(/^\/api\/v1\/support\/conversations$/).length, 1, 'the chat is looked up once')
    assert.equal(wire.matching(/^\/widget\.js$/)[0]?.status, 304)
    const chunks = wire.matching(/^\/widget\/.+\.js$/)
    assert.equal(chunks.length, 3)
    assert.equal(wireBytes(chunks), 0, 'the hashed chunks come from the cache')
    await page.close()
  })

  it('loads the console\'s sign-in page without the desk, and the desk after sign-in', async (t) => {
    const agent = await createUser(desk.http, desk.admin, 'wire-agent', 'agent')
    const { page, errors } = await newConsolePage(browser.context)
    const wire = await WireLog.record(page)
    await page.goto(`${desk.http}/console`)
    await page.getByLabel('User id').waitFor()
    const index = await wire.finished(/^\/console$/)
    const html = readFileSync(join(CONSOLE_OUT_DIR, 'index.html'), 'utf8')
    const named = [...html.matchAll(/(?:src|href)="\/console\/([^"]+)"/g)].map((m) => m[1] ?? '').sort()
    await waitFor(() => named.every((file) => wire.matching(new RegExp(`^/console/${file}$`)).some((r) => r.encodedDataLength !== undefined)),
      15_000, 'every file index.html names has loaded')

    const firstLoad = wire.requests.filter((r) => new URL(r.url).pathname.startsWith('/console') && r.method === 'GET')
    assert.deepEqual(firstLoad.map(fileOf).sort(), ['index.html', ...named].sort(), 'the sign-in page loads what index.html names, nothing more')
    assert.equal(wire.matching(/\/agent-desk-/).length, 0, 'no desk before sign-in')
    assertBrotli(index, CONSOLE_OUT_DIR)
    for (const r of firstLoad.filter((f) => f !== index)) assertBrotli(r, CONSOLE_OUT_DIR)
    const firstLoadBytes = wireBytes(firstLoad)
    assert.ok(firstLoadBytes <= 60_000, `the sign-in page costs ${firstLoadBytes} bytes`)

    await page.getByLabel('User id').fill(agent.uid)
    await page.getByLabel('Password').fill(`pw-${agent.uid}-12345`)
    await page.getByLabel('Password').press('Enter')
    await page.getByText(`Signed in as ${agent.uid}`).waitFor()
    const deskChunk = await wire.finished(/^\/console\/agent-desk-[A-Z0-9]{8}\.js$/)
    assertBrotli(deskChunk, CONSOLE_OUT_DIR)

    // A reload stays signed in: the page is revalidated, every script comes from the cache.
    wire.clear()
    await page.reload()
    await page.getByText(`Signed in as ${agent.uid}`).waitFor()
    const reloaded = await wire.finished(/^\/console$/)
    assert.equal(reloaded.status, 304, 'index.html is revalidated')
    await wire.finished(/^\/console\/agent-desk-[A-Z0-9]{8}\.js$/)
    const assets = wire.requests.filter((r) => new URL(r.url).pathname.startsWith('/console'))
    assert.ok(assets.length >= named.length + 2, 'the page, its files and the desk')
    const reloadBytes = wireBytes(assets)
    assert.ok(reloadBytes <= REVALIDATION_BYTES, `a reload of the console costs ${reloadBytes} bytes of files`)
    assert.deepEqual(errors, [])
    t.diagnostic(`the console on the wire: ${firstLoadBytes} bytes before sign-in, the desk ${deskChunk.encodedDataLength} more, ${reloadBytes} on a reload`)
    await page.close()
  })

  it('signs out to the sign-in page and in again with the desk already loaded; an account disabled meanwhile ends the session', async () => {
    const agent = await createUser(desk.http, desk.admin, 'wire-agent-2', 'agent')
    const { page, errors } = await newConsolePage(browser.context)
    const wire = await WireLog.record(page)
    const signIn = async (): Promise<void> => {
      await page.getByLabel('User id').fill(agent.uid)
      await page.getByLabel('Password').fill(`pw-${agent.uid}-12345`)
      await page.getByLabel('Password').press('Enter')
      await page.getByText(`Signed in as ${agent.uid}`).waitFor()
    }
    await page.goto(`${desk.http}/console`)
    await signIn()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('User id').waitFor()
    assert.equal(await page.title(), 'Agent console')
    assert.equal(await page.evaluate(() => sessionStorage.getItem('imc-session')), null, 'the session is gone')
    await signIn()
    assert.equal(wire.matching(/\/agent-desk-/).length, 1, 'the desk was fetched once')

    const disabled = await api(desk.http, 'POST', `/api/v1/admin/principals/${agent.uid}/disable`, undefined, desk.admin)
    assert.equal(disabled.status, 200)
    await page.getByText('Your session has ended. Please sign in again.').waitFor({ timeout: 20_000 })
    await page.getByLabel('User id').waitFor()
    assert.deepEqual(errors.filter((e) => !/WebSocket|Failed to load resource/.test(e)), [])
    await page.close()
  })
})
