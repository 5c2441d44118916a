/**
 * The chat widget's connection in a real Chromium against a real broker, the agent scripted over
 * MQTT: a broker killed with SIGKILL and restarted mid-chat (the quiet "Reconnecting…" banner,
 * then the chat complete and nothing doubled), messages written while the socket is down (and
 * across a reload) delivered once and in order, the connection let go while the page is hidden
 * and idle and taken up again on return, the desk closing a released visitor's chat as idle, and
 * a send the broker refuses shown as failed with a retry.
 *
 * Needs Debian's chromium at /usr/bin/chromium (.ci/run installs it); without it the suite is
 * skipped with a loud warning, never faked.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import type { AgentState, Conversation, HistoryPage, ServerEvent } from '../../shared/protocol.js'
import { parseImTopic } from '../../shared/topics.js'
import { freePort, RestartableBroker } from '../helpers/broker.js'
import { haveChromium, launchChromium, CHROMIUM_PATH, type Browser } from '../helpers/console.js'
import { adminToken, api, createUser, defaultSiteKey, type Principal } from '../helpers/http.js'
import { join, type Participant } from '../helpers/im.js'
import { waitFor } from '../helpers/mqtt.js'
import { DeskFixture, nextAfter, onDuty, setStatus } from '../helpers/support.js'
import {
  composer, ensureWidgetBuilt, launcher, openHostPage, openPanel, ownStates, reconnectBanner, sendFromWidget, setPageHidden,
  shownSeqs, shownTexts, startHostSite, storedVisitorUid, waitForTexts, widget, type HostSite
} from '../helpers/widget.js'

const CHROMIUM = haveChromium()
if (!CHROMIUM) {
  process.stderr.write(`\n${'!'.repeat(78)}\n!!! SKIPPED: the widget browser tests need Chromium at ${CHROMIUM_PATH}.\n!!! Install it (apt-get install chromium) — .ci/run does — to run them.\n${'!'.repeat(78)}\n\n`)
}
const skip = CHROMIUM ? false : `Chromium is not installed at ${CHROMIUM_PATH}`

/** How long a lost connection stays quiet before the banner shows, in these tests (default 3 s). */
const BANNER_DELAY_MS = 1000

interface Agent { principal: Principal, p: Participant }

let agentCount = 0

/** A new agent with a display name, connected over MQTT and online with room for `capacity` chats. */
async function newAgent (http: string, mqttUrl: string, admin: string, name: string, capacity = 5): Promise<Agent> {
  const principal = await createUser(http, admin, `wc-agent${++agentCount}`, 'agent', { name })
  return { principal, p: await onDuty(mqttUrl, principal, capacity) }
}

/** The agent's text into `cid`; resolves with its seq once stored (its echo came). */
async function reply (a: Participant, cid: string, text: string): Promise<number> {
  const cmid = `a-${Math.random().toString(36).slice(2, 10)}`
  const from = a.events.length
  await a.command({ op: 'send', cmid, cid, type: 'text', body: { text } })
  return (await nextAfter(a, from, 'msg', (e) => e.msg.cmid === cmid)).msg.seq
}

/** The chat as the server stored it, in seq order (as the agent reads it). */
async function stored (http: string, token: string, cid: string): Promise<Array<{ seq: number, from: string, text: string }>> {
  const res = await api<HistoryPage>(http, 'GET', `/api/v1/conversations/${cid}/messages?after=0&limit=200`, undefined, token)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res.body.messages.map((m) => ({ seq: m.seq, from: m.from, text: (m.body as { text: string }).text }))
}

/** The chat the agent was given after event index `from` (optionally: of `visitor`). */
async function assignedChat (a: Participant, from: number, visitor?: string): Promise<Conversation> {
  const e = await nextAfter(a, from, 'conv', (c) => c.type === 'assigned' && (visitor === undefined || c.conv.support?.visitor === visitor), 10_000)
  return e.conv
}

/** Waits until the agent has the visitor's `text` (so what it writes next comes after it). */
async function heard (a: Participant, text: string): Promise<void> {
  await nextAfter(a, 0, 'msg', (e) => (e.msg.body as { text?: string } | null)?.text === text, 10_000)
}

/** Messages shown = `texts`, each once, stored ones in strictly ascending seq order. */
async function assertShownOnce (page: Page, texts: string[]): Promise<void> {
  await waitForTexts(page, texts)
  const seqs = await shownSeqs(page)
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `seq order: ${seqs.join(',')}`)
  assert.equal(new Set(seqs).size, seqs.length, `no seq twice: ${seqs.join(',')}`)
}

describe('chat widget across a broker restart', { skip }, () => {
  let browser: Browser
  let restartable: RestartableBroker
  let admin: string
  let siteKey: string
  const sites: HostSite[] = []
  const participants: Participant[] = []

  /** A host page on a new origin (so a new visitor), with the banner after BANNER_DELAY_MS. */
  const hostSite = async (): Promise<HostSite> => {
    const site = await startHostSite(restartable.broker.httpUrl, siteKey)
    site.setPage({ data: { 'banner-delay': String(BANNER_DELAY_MS) } })
    sites.push(site)
    return site
  }

  /** Kills the broker with SIGKILL and waits until the widget shows the banner (the socket is down). */
  const killBroker = async (page: Page): Promise<void> => {
    await restartable.kill('SIGKILL')
    await reconnectBanner(page).waitFor({ state: 'visible', timeout: 10_000 })
  }

  before(async () => {
    await ensureWidgetBuilt()
    const [mqttPort, httpPort] = [await freePort(), await freePort()]
    // Fixed ports and data: the restarted broker is the same broker to the widget and the agent.
    restartable = new RestartableBroker({ MQTT_PORT: String(mqttPort), HTTP_PORT: String(httpPort), IDLE_RELEASE_MS: '60000' })
    const [launched] = await Promise.all([launchChromium(), restartable.start()])
    browser = launched
    admin = await adminToken(restartable.broker.httpUrl)
    siteKey = await defaultSiteKey(restartable.broker.httpUrl, admin)
  })

  after(async () => {
    await Promise.all(participants.map(async (p) => { await p.close().catch(() => undefined) }))
    await browser?.close()
    await Promise.all(sites.map(async (s) => { await s.close() }))
    await restartable?.dispose()
  })

  it('shows the reconnect banner only after its delay, and after the restart every message once, in seq order', async () => {
    const site = await hostSite()
    const { http, mqtt } = { http: restartable.broker.httpUrl, mqtt: restartable.broker.mqttUrl }
    const dana = await newAgent(http, mqtt, admin, 'Dana Scully')
    participants.push(dana.p)
    const { page, errors } = await openHostPage(browser.context, site.url)
    await openPanel(page)
    await sendFromWidget(page, 'Hello before the crash')
    const cid = (await assignedChat(dana.p, 0)).cid
    await heard(dana.p, 'Hello before the crash')
    await reply(dana.p, cid, 'Hi! Looking into it')
    await assertShownOnce(page, ['Hello before the crash', 'Hi! Looking into it'])
    assert.equal(await reconnectBanner(page).isVisible(), false, 'no banner while connected')

    // Note when the banner shows, in the page, to compare with the moment of the kill.
    await page.evaluate(() => {
      const panel = document.querySelector('im-chat-widget')?.shadowRoot?.querySelector('im-chat-panel')
      const banner = panel?.shadowRoot?.querySelector('.banner')
      if (!banner) throw new Error('no banner element')
      const w = window as { __bannerShownAt?: number }
      new MutationObserver(() => { if (!banner.hasAttribute('hidden')) w.__bannerShownAt ??= Date.now() })
        .observe(banner, { attributes: true, attributeFilter: ['hidden'] })
    })
    const killedAt = Date.now()
    await killBroker(page)
    assert.equal(await reconnectBanner(page).textContent(), 'Reconnecting…')
    // The socket closed after `killedAt`, and the banner waits BANNER_DELAY_MS after that (both
    // clocks are the machine's wall clock; a timer never fires early). A lower bound, not a speed.
    const shownAt = await page.evaluate(() => (window as { __bannerShownAt?: number }).__bannerShownAt)
    assert.ok(shownAt !== undefined && shownAt - killedAt >= BANNER_DELAY_MS - 20, `banner ${String(shownAt && shownAt - killedAt)} ms after the kill`)

    const again = await restartable.start()
    // The agent's MQTT.js client gave up with the old broker: a new connection, a message at once
    // (the widget may not be back yet: it then comes with the catch-up over HTTP).
    const dana2 = await join(again.mqttUrl, dana.principal)
    participants.push(dana2)
    await reply(dana2, cid, 'Still there? The server restarted')
    await reconnectBanner(page).waitFor({ state: 'hidden', timeout: 20_000 })
    await reply(dana2, cid, 'We are back')
    await sendFromWidget(page, 'Yes, I am here')
    const expected = ['Hello before the crash', 'Hi! Looking into it', 'Still there? The server restarted', 'We are back', 'Yes, I am here']
    await assertShownOnce(page, expected)
    // The agent's replies moved its read position past the first message [IM-READ-2].
    await waitFor(async () => JSON.stringify(await ownStates(page)) === JSON.stringify(['read', 'sent']), 10_000, 'own messages stored')

    const server = await stored(http, dana.principal.token, cid)
    assert.deepEqual(server.map((m) => m.text), expected)
    assert.deepEqual(await shownSeqs(page), server.map((m) => m.seq))
    assert.deepEqual(errors, [])
    await page.close()
  })

  it('delivers messages written while the broker is down after the reconnect, in order, once — also across a reload', async () => {
    const site = await hostSite()
    const http = restartable.broker.httpUrl
    const fox = await newAgent(http, restartable.broker.mqttUrl, admin, 'Fox Mulder')
    participants.push(fox.p)
    const { page, errors } = await openHostPage(browser.context, site.url)
    await openPanel(page)
    await sendFromWidget(page, 'First, while online')
    const visitor = await storedVisitorUid(page, siteKey)
    const cid = (await assignedChat(fox.p, 0, visitor)).cid
    await waitFor(async () => (await ownStates(page))[0] === 'sent', 10_000, 'the first message sent')

    await killBroker(page)
    const offline = ['Written offline 1', 'Written offline 2', 'Written offline 3']
    for (const text of offline) await sendFromWidget(page, text)
    await waitForTexts(page, ['First, while online', ...offline])
    assert.deepEqual(await ownStates(page), ['sent', 'sending', 'sending', 'sending'])

    await restartable.start()
    const all = ['First, while online', ...offline]
    await waitFor(async () => JSON.stringify(await ownStates(page)) === JSON.stringify(['sent', 'sent', 'sent', 'sent']), 20_000, 'all four sent')
    await assertShownOnce(page, all)
    const server = await stored(http, fox.principal.token, cid)
    assert.deepEqual(server.map((m) => m.text), all, 'stored once each, in the order written')
    assert.deepEqual(server.map((m) => m.seq), [1, 2, 3, 4])

    // The page reloads (or the tab closes) while a send waits for the broker: the send is kept in
    // localStorage. widget.js comes from the broker, so the page loaded while it is down has no
    // widget; the next page load after the restart sends the kept message, with its cmid, once.
    await killBroker(page)
    await sendFromWidget(page, 'Written, then the page reloaded')
    await waitFor(async () => (await ownStates(page)).at(-1) === 'sending', 5000, 'the send pending')
    const kept = await page.evaluate((key) => JSON.parse(localStorage.getItem(`im-chat:${key}:pending:0`) ?? '[]') as Array<{ cmid: string, text: string }>, siteKey)
    assert.deepEqual(kept.map((p) => p.text), ['Written, then the page reloaded'], 'the pending send is kept in localStorage')
    await page.reload()
    assert.equal(await launcher(page).count(), 0, 'no widget while its server is down')
    await restartable.start()
    await page.reload()
    // With a chat going on, the widget connects at idle time by itself: the kept send goes out
    // before the visitor opens the panel.
    const final = [...all, 'Written, then the page reloaded']
    const history = async (): Promise<HistoryPage> =>
      (await api<HistoryPage>(http, 'GET', `/api/v1/conversations/${cid}/messages?after=0&limit=200`, undefined, fox.principal.token)).body
    await waitFor(async () => (await history()).messages.length === final.length, 20_000, 'the kept send stored')
    await openPanel(page)
    await waitFor(async () => JSON.stringify(await ownStates(page)) === JSON.stringify(final.map(() => 'sent')), 10_000, 'all shown as sent')
    await assertShownOnce(page, final)
    const after = (await history()).messages
    assert.deepEqual(after.map((m) => (m.body as { text: string }).text), final)
    assert.deepEqual(after.map((m) => m.seq), [1, 2, 3, 4, 5])
    assert.equal(after.at(-1)?.cmid, kept[0]?.cmid, 'sent with the cmid it was kept with')
    assert.deepEqual(errors, [])
    await page.close()
  })

  it('says so when the chat is opened while the broker is down, and comes up by itself once it is back', async () => {
    const site = await hostSite()
    const http = restartable.broker.httpUrl
    const gil = await newAgent(http, restartable.broker.mqttUrl, admin, 'Gil Grissom')
    participants.push(gil.p)
    const { page } = await openHostPage(browser.context, site.url)
    await launcher(page).waitFor()
    await restartable.kill('SIGKILL')
    await launcher(page).click()
    // Whether the panel's code came from the browser's cache (the session then cannot start) or
    // could not be fetched at all, the visitor is told — and nobody has to press "try again".
    await widget(page).getByText('The chat could not be loaded.', { exact: false }).waitFor({ timeout: 15_000 })
    const again = await restartable.start()
    await composer(page).waitFor({ timeout: 30_000 })
    const gil2 = await join(again.mqttUrl, gil.principal)
    participants.push(gil2)
    await setStatus(gil2, 'online', 5)
    await sendFromWidget(page, 'Hello after the outage')
    const cid = (await assignedChat(gil2, 0, await storedVisitorUid(page, siteKey))).cid
    await heard(gil2, 'Hello after the outage')
    await reply(gil2, cid, 'Welcome back')
    await assertShownOnce(page, ['Hello after the outage', 'Welcome back'])
    await page.close()
  })
})

describe('chat widget releasing its connection while the page is hidden', { skip }, () => {
  let browser: Browser
  const desks: DeskFixture[] = []
  const sites: HostSite[] = []

  /** A broker with `overrides`, a host page on it with `data` on the snippet. */
  const setup = async (overrides: Parameters<typeof DeskFixture.start>[0], data: Record<string, string>): Promise<{ desk: DeskFixture, site: HostSite }> => {
    const desk = await DeskFixture.start(overrides)
    desks.push(desk)
    const site = await startHostSite(desk.http, desk.siteKey)
    site.setPage({ data })
    sites.push(site)
    return { desk, site }
  }

  const agentOn = async (desk: DeskFixture, name: string, capacity = 5): Promise<Agent> => {
    const a = await newAgent(desk.http, desk.broker.mqttUrl, desk.admin, name, capacity)
    desk.track(a.p)
    return a
  }

  /** The widget's MQTT client ids (`{uid}-t{tab}`) the broker has connected now. */
  const widgetClients = (desk: DeskFixture, uid: string): string[] =>
    Object.keys((desk.broker.server.aedes as unknown as { clients: Record<string, unknown> }).clients).filter((id) => id.startsWith(`${uid}-t`))

  const presence = (a: Participant, from: number, uid: string, online: boolean) =>
    nextAfter(a, from, 'presence', (e) => e.uid === uid && e.online === online, 10_000)

  before(async () => {
    await ensureWidgetBuilt()
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await Promise.all(sites.map(async (s) => { await s.close() }))
    await Promise.all(desks.map(async (d) => { await d.stop() }))
  })

  it('lets go of the connection when hidden and idle, takes it up again on return, and shows what came meanwhile once', async () => {
    const { desk, site } = await setup({}, { 'idle-release': '1' })
    const { p: gus } = await agentOn(desk, 'Gus Grissom')
    const { page, errors } = await openHostPage(browser.context, site.url)
    await openPanel(page)
    await sendFromWidget(page, 'Hello, quick question')
    const uid = await storedVisitorUid(page, desk.siteKey)
    assert.ok(uid)
    const cid = (await assignedChat(gus, 0, uid)).cid
    await heard(gus, 'Hello, quick question')
    await reply(gus, cid, 'Sure, go ahead')
    await assertShownOnce(page, ['Hello, quick question', 'Sure, go ahead'])
    assert.deepEqual(widgetClients(desk, uid), [`${uid}-t0`])

    const before = gus.events.length
    // Headless Chromium always reports the page visible, whatever is done to the window or tabs:
    // hiding it is simulated (visibilityState shadowed on `document`, `visibilitychange` fired).
    await setPageHidden(page, true)
    // Released: the visitor's last connection closes, so the agent sees it go offline.
    await presence(gus, before, uid, false)
    assert.deepEqual(widgetClients(desk, uid), [], 'no connection of the visitor left on the broker')
    assert.equal(await reconnectBanner(page).isVisible(), false, 'a released connection is no "reconnecting…"')

    const whileAway = ['Found the answer', 'It is in the second menu']
    for (const text of whileAway) await reply(gus, cid, text)
    // Nothing comes live while released (no connection).
    assert.deepEqual(await shownTexts(page), ['Hello, quick question', 'Sure, go ahead'])
    assert.deepEqual(widgetClients(desk, uid), [])

    const back = gus.events.length
    await setPageHidden(page, false)
    await presence(gus, back, uid, true)
    assert.deepEqual(widgetClients(desk, uid), [`${uid}-t0`])
    await assertShownOnce(page, ['Hello, quick question', 'Sure, go ahead', ...whileAway])
    const server = await stored(desk.http, gus.token, cid)
    assert.deepEqual(await shownSeqs(page), server.map((m) => m.seq))
    assert.deepEqual(errors, [])
    await setStatus(gus, 'offline')
    await page.close()
  })

  it('the desk closes a released visitor\'s chat as idle, frees the agent, and the visitor starts a new chat on return', async () => {
    // Any traffic of a connected visitor counts as presence, and the widget pings only every 30 s:
    // the countdown here is short, so the visitor's last traffic (its read of the agent's
    // message) comes just before the page is hidden, and the release — not silence — ends the chat.
    const { desk, site } = await setup({ IDLE_RELEASE_MS: 4000 }, { 'idle-release': '1' })
    const { p: hal } = await agentOn(desk, 'Hal Jordan', 1)
    const { page, errors } = await openHostPage(browser.context, site.url)
    await openPanel(page)
    await sendFromWidget(page, 'Is the shop open on Sunday?')
    const uid = await storedVisitorUid(page, desk.siteKey)
    assert.ok(uid)
    const cid = (await assignedChat(hal, 0, uid)).cid
    await heard(hal, 'Is the shop open on Sunday?')
    const seq = await reply(hal, cid, 'Yes, from 10 to 4')
    await nextAfter(hal, 0, 'read', (e) => e.uid === uid && e.seq === seq, 10_000)

    const hidden = hal.events.length
    await setPageHidden(page, true)
    await presence(hal, hidden, uid, false)
    const open = await api<Conversation>(desk.http, 'GET', `/api/v1/conversations/${cid}`, undefined, hal.token)
    assert.equal(open.body.support?.state, 'active', 'the connection went first; the chat was still open')

    const closed = await nextAfter(hal, hidden, 'conv', (e) => e.type === 'closed' && e.conv.cid === cid, 15_000)
    assert.equal(closed.conv.support?.closedReason, 'idle')
    const me = await api<AgentState>(desk.http, 'GET', '/api/v1/agents/me', undefined, hal.token)
    assert.deepEqual(me.body.active, [], 'the agent\'s slot is free')

    await setPageHidden(page, false)
    await widget(page).getByText('The chat ended because you were away.').waitFor({ timeout: 15_000 })
    await widget(page).locator('im-rating-form form').getByText('How was your chat?').waitFor()
    assert.equal(await widget(page).locator('im-chat-composer').count(), 0, 'no composer in an ended chat')

    const next = hal.events.length
    await widget(page).getByRole('button', { name: 'Start a new chat' }).click()
    await sendFromWidget(page, 'One more question')
    const fresh = await assignedChat(hal, next, uid)
    assert.notEqual(fresh.cid, cid, 'a new chat')
    assert.equal(fresh.support?.agent, hal.uid)
    await waitForTexts(page, ['One more question'])
    await waitFor(async () => (await ownStates(page))[0] === 'sent', 10_000, 'the new chat\'s message sent')
    assert.deepEqual((await stored(desk.http, hal.token, fresh.cid)).map((m) => m.text), ['One more question'])
    assert.deepEqual(errors, [])
    await setStatus(hal, 'offline')
    await page.close()
  })
})

describe('chat widget with a send the broker refuses', { skip }, () => {
  let browser: Browser
  let desk: DeskFixture
  let site: HostSite
  /** the error events the broker sent the visitor, by cmid */
  const refusals = new Map<string, string[]>()

  before(async () => {
    await ensureWidgetBuilt()
    // Texts up to 50 characters; a command (its JSON) up to 1024 bytes. The composer takes 10 000.
    desk = await DeskFixture.start({ MESSAGE_MAX_CHARS: 50, COMMAND_MAX_BYTES: 1024 })
    desk.broker.server.aedes.on('publish', (packet) => {
      if (parseImTopic(packet.topic)?.kind !== 'inbox') return
      const event = JSON.parse(packet.payload.toString()) as ServerEvent
      if (event.ev === 'error' && event.cmid !== undefined) refusals.set(event.cmid, [...refusals.get(event.cmid) ?? [], event.code])
    })
    site = await startHostSite(desk.http, desk.siteKey)
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await site?.close()
    await desk?.stop()
  })

  it('shows a too-long message as failed with a retry that fails the same way, and later messages still go', async () => {
    const ivy = (await newAgent(desk.http, desk.broker.mqttUrl, desk.admin, 'Ivy Walker')).p
    desk.track(ivy)
    const { page, errors } = await openHostPage(browser.context, site.url)
    await openPanel(page)
    await sendFromWidget(page, 'Hi')
    const uid = await storedVisitorUid(page, desk.siteKey)
    assert.ok(uid)
    const cid = (await assignedChat(ivy, 0, uid)).cid
    await waitFor(async () => (await ownStates(page))[0] === 'sent', 10_000, 'the first message sent')
    const failed = widget(page).locator('im-message-list li.msg.mine[data-state=failed]')

    // Over COMMAND_MAX_BYTES: the broker answers IM_ERR_PAYLOAD_TOO_LARGE, shown as "too long".
    const long = 'A long story. '.repeat(100)
    await sendFromWidget(page, long)
    const tooLong = failed.filter({ hasText: 'A long story.' })
    await tooLong.waitFor({ timeout: 10_000 })
    const cmid = await waitFor(async () => [...refusals.keys()][0], 5000, 'the refusal')
    assert.deepEqual(refusals.get(cmid), ['IM_ERR_PAYLOAD_TOO_LARGE'])
    assert.equal(await tooLong.locator('.bubble').textContent(), long.trim())
    await tooLong.getByText('Not sent — This message is too long.').waitFor()
    assert.equal(await tooLong.locator('.bang').textContent(), '!')
    const [bang, errorColour] = await tooLong.evaluate((li) => [
      getComputedStyle(li.querySelector('.bang')!).backgroundColor, getComputedStyle(li.querySelector('.meta')!).color
    ])
    assert.equal(bang, errorColour, 'the "!" in the error colour')

    await tooLong.getByRole('button', { name: 'Retry' }).click()
    // Sent again with the same cmid, refused again: still failed, with the same message.
    await waitFor(async () => refusals.get(cmid)?.length === 2, 10_000, 'the retry refused')
    assert.deepEqual(refusals.get(cmid), ['IM_ERR_PAYLOAD_TOO_LARGE', 'IM_ERR_PAYLOAD_TOO_LARGE'])
    await waitFor(async () => JSON.stringify(await ownStates(page)) === JSON.stringify(['sent', 'failed']), 10_000, 'failed again')
    await tooLong.getByText('Not sent — This message is too long.').waitFor()
    await tooLong.getByRole('button', { name: 'Retry' }).waitFor()

    // Over MESSAGE_MAX_CHARS (60 > 50) but within COMMAND_MAX_BYTES: the broker answers
    // IM_ERR_BAD_REQUEST ("a wrong field", docs/protocol.md [IM-CMD-1]), which the widget cannot
    // tell from any other bad request: failed with a retry, under its generic error text.
    const over = 'x'.repeat(60)
    await sendFromWidget(page, over)
    const overLimit = failed.filter({ hasText: over })
    await overLimit.waitFor({ timeout: 10_000 })
    const second = await waitFor(async () => [...refusals.keys()][1], 5000, 'the second refusal')
    assert.deepEqual(refusals.get(second), ['IM_ERR_BAD_REQUEST'])
    await overLimit.getByText(/^Not sent — /).waitFor()
    assert.equal(await overLimit.locator('.bang').textContent(), '!')
    await overLimit.getByRole('button', { name: 'Retry' }).click()
    await waitFor(async () => refusals.get(second)?.length === 2, 10_000, 'the retry refused')
    await waitFor(async () => JSON.stringify(await ownStates(page)) === JSON.stringify(['sent', 'failed', 'failed']), 10_000, 'failed again')

    await sendFromWidget(page, 'Short version: it broke')
    await waitFor(async () => JSON.stringify(await ownStates(page)) === JSON.stringify(['sent', 'sent', 'failed', 'failed']), 10_000, 'the next message sent')
    const server = await stored(desk.http, ivy.token, cid)
    assert.deepEqual(server.map((m) => m.text), ['Hi', 'Short version: it broke'], 'the refused text is never stored')
    assert.deepEqual(errors, [])
    await page.close()
  })
})
