/**
 * The chat widget in a real Chromium, embedded by the README's snippet in a plain host page on its
 * own origin under a strict Content-Security-Policy, against a real broker; the agent is scripted
 * over MQTT. Chat both ways with states and typing, reload mid-chat, two tabs, hostile text, the
 * keyboard-only flow, and the host-page API with its events.
 *
 * Needs Debian's chromium at /usr/bin/chromium (.ci/run installs it); without it the suite is
 * skipped with a loud warning, never faked.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it, type TestContext } from 'node:test'
import type { Message } from '../../shared/protocol.js'
import type { WidgetEventName } from '../../widget/events.js'
import { haveChromium, launchChromium, CHROMIUM_PATH, type Browser } from '../helpers/console.js'
import { createUser } from '../helpers/http.js'
import type { Participant } from '../helpers/im.js'
import { waitFor } from '../helpers/mqtt.js'
import { conversation, DeskFixture, nextAfter, onDuty, setStatus } from '../helpers/support.js'
import {
  badge, composer, cspViolations, ensureWidgetBuilt, focused, forgetVisitor, launcher, openHostPage, openPanel, ownStates, sendFromWidget,
  startHostSite, visitorUid, waitForTexts, widget, type HostPageOptions, type WidgetPage
} from '../helpers/widget.js'

const CHROMIUM = haveChromium()
if (!CHROMIUM) {
  process.stderr.write(`\n${'!'.repeat(78)}\n!!! SKIPPED: the widget browser tests need Chromium at ${CHROMIUM_PATH}.\n!!! Install it (apt-get install chromium) — .ci/run does — to run them.\n${'!'.repeat(78)}\n\n`)
}
const skip = CHROMIUM ? false : `Chromium is not installed at ${CHROMIUM_PATH}`

interface HostWindow { __api: Array<{ name: string, detail: unknown }> }

describe('chat widget on a host page', { skip }, () => {
  let desk: DeskFixture
  let browser: Browser
  let site: Awaited<ReturnType<typeof startHostSite>>
  let agentCount = 0
  /** agents still online: a test's new agent takes the others offline, so routing gives it the test's chats */
  const online: Participant[] = []

  /** A new agent with a display name, online with room for `capacity` chats; the earlier ones go offline. */
  const agent = async (name: string, capacity = 5): Promise<Participant> => {
    for (const earlier of online.splice(0)) await setStatus(earlier, 'offline')
    const uid = `agent${++agentCount}`
    const principal = await createUser(desk.http, desk.admin, uid, 'agent', { name })
    const a = desk.track(await onDuty(desk.broker.mqttUrl, principal, capacity))
    online.push(a)
    return a
  }

  /** The agent's text into `cid`; resolves with its seq. */
  const reply = async (a: Participant, cid: string, text: string): Promise<number> => {
    const cmid = `a-${Math.random().toString(36).slice(2, 10)}`
    const from = a.events.length
    await a.command({ op: 'send', cmid, cid, type: 'text', body: { text } })
    return (await nextAfter(a, from, 'msg', (e) => e.msg.cmid === cmid)).msg.seq
  }

  /** The chat of the page's visitor, once the agent has it. */
  const chatOf = async (a: Participant, page: WidgetPage['page']): Promise<string> => {
    const uid = await visitorUid(page, desk.siteKey)
    return (await nextAfter(a, 0, 'conv', (e) => e.type === 'assigned' && e.conv.support?.visitor === uid, 15_000)).conv.cid
  }

  /** Waits until the agent got `text` in `cid`. */
  const agentGets = async (a: Participant, cid: string, text: string): Promise<Message> =>
    (await nextAfter(a, 0, 'msg', (e) => e.msg.cid === cid && (e.msg.body as { text?: string }).text === text, 15_000)).msg

  /** The host page (variant `o`) in a new tab, as a new visitor unless `sameVisitor`; closed after the test. */
  const visit = async (t: TestContext, o: HostPageOptions = {}, sameVisitor = false): Promise<WidgetPage> => {
    site.setPage(o)
    if (!sameVisitor) await forgetVisitor(browser.context, site.url)
    const host = await openHostPage(browser.context, site.url)
    t.after(async () => { await host.page.close() })
    await launcher(host.page).waitFor()
    return host
  }

  /** Nothing the page threw or logged, no CSP violation. */
  const assertClean = async (host: WidgetPage): Promise<void> => {
    assert.deepEqual(await cspViolations(host), [], 'no CSP violation on a strict page')
    assert.deepEqual(host.errors, [], 'no page errors')
  }

  /** The DOM events `name` the page recorded, their details in order. */
  const domEvents = async (host: WidgetPage, name: WidgetEventName): Promise<unknown[]> =>
    (await host.events()).filter((e) => e.source === 'dom' && e.name === name).map((e) => e.detail)

  before(async () => {
    await ensureWidgetBuilt()
    desk = await DeskFixture.start()
    site = await startHostSite(desk.http, desk.siteKey)
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    await site?.close()
    await desk?.stop()
  })

  it('embeds by the snippet, chats with an agent both ways, and shows sent → read and typing', async (t) => {
    const dana = await agent('Dana Scully')
    const host = await visit(t)
    const { page } = host
    await openPanel(page)
    await sendFromWidget(page, 'Hello, I need help')
    const cid = await chatOf(dana, page)
    await agentGets(dana, cid, 'Hello, I need help')
    await waitFor(async () => (await ownStates(page))[0] === 'sent', 15_000, 'the message shows as sent')
    await widget(page).getByText('Dana Scully joined the chat.').waitFor()
    await dana.command({ op: 'read', cid, seq: 1 })
    await waitFor(async () => (await ownStates(page))[0] === 'read', 15_000, 'the message shows as read')

    await dana.command({ op: 'typing', cid, on: true }, 0)
    await widget(page).getByText('Dana Scully is typing…').waitFor()
    await reply(dana, cid, 'Hi! How can I help?')
    await waitForTexts(page, ['Hello, I need help', 'Hi! How can I help?'])
    assert.equal(await widget(page).getByText('Dana Scully is typing…').count(), 0, 'typing ends with the message')
    assert.deepEqual(await domEvents(host, 'unread-count-changed'), [], 'what comes while the panel shows it is never unread')
    assert.equal(await badge(page).isVisible(), false)
    await assertClean(host)
  })

  it('shows the whole history exactly once after the host page reloads mid-chat, and the chat goes on', async (t) => {
    const fox = await agent('Fox Mulder')
    const host = await visit(t)
    const { page } = host
    await openPanel(page)
    await sendFromWidget(page, 'My order did not arrive')
    const cid = await chatOf(fox, page)
    await agentGets(fox, cid, 'My order did not arrive')
    await reply(fox, cid, 'Which order number?')
    await waitForTexts(page, ['My order did not arrive', 'Which order number?'])
    await sendFromWidget(page, 'Number 4711')
    await agentGets(fox, cid, 'Number 4711')
    await waitFor(async () => (await ownStates(page)).every((s) => s === 'sent' || s === 'read'), 15_000, 'both sends are stored')

    await page.reload()
    await launcher(page).waitFor()
    await openPanel(page)
    await waitForTexts(page, ['My order did not arrive', 'Which order number?', 'Number 4711'])

    await sendFromWidget(page, 'Any news?')
    const after = await agentGets(fox, cid, 'Any news?')
    assert.equal(after.cid, cid, 'the same chat goes on after the reload')
    await reply(fox, cid, 'It ships today.')
    await waitForTexts(page, ['My order did not arrive', 'Which order number?', 'Number 4711', 'Any news?', 'It ships today.'])
    // Own messages once each, stored, and read: the agent's last reply came after all of them [IM-READ-2].
    await waitFor(async () => (await ownStates(page)).join() === 'read,read,read', 15_000, 'own messages once each, read')
    await assertClean(host)
  })

  it('shows every message once in each of two tabs, and reading in one tab clears the badge in the other', async (t) => {
    const walter = await agent('Walter Skinner')
    const a = await visit(t)
    await openPanel(a.page)
    await sendFromWidget(a.page, 'Hello from tab A')
    const cid = await chatOf(walter, a.page)

    const b = await visit(t, {}, true)
    assert.equal(await visitorUid(b.page, desk.siteKey), await visitorUid(a.page, desk.siteKey), 'both tabs are the same visitor')
    await openPanel(b.page)
    await waitForTexts(b.page, ['Hello from tab A'])

    await reply(walter, cid, 'Hello, both of you')
    await waitForTexts(a.page, ['Hello from tab A', 'Hello, both of you'])
    await waitForTexts(b.page, ['Hello from tab A', 'Hello, both of you'])

    await sendFromWidget(a.page, 'Typed in tab A')
    await agentGets(walter, cid, 'Typed in tab A')
    await waitForTexts(a.page, ['Hello from tab A', 'Hello, both of you', 'Typed in tab A'])
    await waitForTexts(b.page, ['Hello from tab A', 'Hello, both of you', 'Typed in tab A'])
    // Stored, and the first one read: the agent's reply came after it [IM-READ-2].
    await waitFor(async () => (await ownStates(b.page)).join() === 'read,sent', 15_000, 'tab B shows the sends of tab A as stored')

    // Both panels closed: a new message is unread in both tabs, counted once in each.
    await launcher(a.page).click()
    await launcher(b.page).click()
    await composer(a.page).waitFor({ state: 'hidden' })
    await composer(b.page).waitFor({ state: 'hidden' })
    const unreadA = (await domEvents(a, 'unread-count-changed')).length
    const unreadB = (await domEvents(b, 'unread-count-changed')).length
    await reply(walter, cid, 'Are you still there?')
    for (const tab of [a, b]) {
      await badge(tab.page).waitFor({ state: 'visible' })
      assert.equal(await badge(tab.page).textContent(), '1')
    }

    // Reading in tab A: the server tells all the visitor's connections; tab B's badge clears too.
    await openPanel(a.page)
    await badge(a.page).waitFor({ state: 'hidden' })
    await badge(b.page).waitFor({ state: 'hidden' })
    assert.deepEqual((await domEvents(a, 'unread-count-changed')).slice(unreadA), [{ count: 1 }, { count: 0 }])
    assert.deepEqual((await domEvents(b, 'unread-count-changed')).slice(unreadB), [{ count: 1 }, { count: 0 }])
    await openPanel(b.page)
    await waitForTexts(b.page, ['Hello from tab A', 'Hello, both of you', 'Typed in tab A', 'Are you still there?'])
    await waitForTexts(a.page, ['Hello from tab A', 'Hello, both of you', 'Typed in tab A', 'Are you still there?'])
    const texts = (events: unknown[]): string[] => events.map((e) => ((e as { message: Message }).message.body as { text: string }).text)
    assert.deepEqual(texts(await domEvents(a, 'message')), ['Hello, both of you', 'Are you still there?'], 'one im-message per agent message in tab A')
    assert.deepEqual(texts(await domEvents(b, 'message')), ['Hello, both of you', 'Are you still there?'], 'one im-message per agent message in tab B')
    await assertClean(a)
    await assertClean(b)
  })

  it('shows markup in messages as the characters it is, never as elements', async (t) => {
    const dale = await agent('Dale Cooper')
    const host = await visit(t)
    const { page } = host
    await openPanel(page)
    await sendFromWidget(page, '<i>help</i> & <script>window.__pwned = 2</script>')
    const cid = await chatOf(dale, page)
    await agentGets(dale, cid, '<i>help</i> & <script>window.__pwned = 2</script>')
    await reply(dale, cid, '<img src=x onerror="window.__pwned=1">')
    await reply(dale, cid, '<b>bold</b>')
    await waitForTexts(page, ['<i>help</i> & <script>window.__pwned = 2</script>', '<img src=x onerror="window.__pwned=1">', '<b>bold</b>'])

    const inWidget = widget(page)
    for (const tag of ['img', 'b', 'i', 'script']) {
      assert.equal(await inWidget.locator(`im-message-list ${tag}`).count(), 0, `no <${tag}> in the messages`)
    }
    // Nothing anywhere on the page, through every shadow root.
    const created = await page.evaluate(() => {
      const found: string[] = []
      const roots: Array<Document | ShadowRoot> = [document]
      for (let root = roots.pop(); root; root = roots.pop()) {
        for (const el of root.querySelectorAll('*')) {
          if (['IMG', 'B', 'I'].includes(el.tagName) || (el.tagName === 'SCRIPT' && !(el as HTMLScriptElement).src)) found.push(el.tagName)
          if (el.shadowRoot) roots.push(el.shadowRoot)
        }
      }
      return found
    })
    assert.deepEqual(created, [])
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined)
    await assertClean(host)
  })

  it('works by keyboard alone: launcher, pre-chat form with its errors, message, Escape', async (t) => {
    const clarice = await agent('Clarice Starling')
    const host = await visit(t, { data: { prechat: 'name,email' } })
    const { page } = host
    // From the top of the host page: its own button first, then the launcher.
    for (let i = 0; i < 6 && await focused(page) !== 'button.launcher'; i++) await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'button.launcher', 'Tab reaches the launcher')
    await page.keyboard.press('Enter')
    await waitFor(async () => await focused(page) === 'input[name]', 15_000, 'the focus is in the name field')

    await page.keyboard.type('Ada Lovelace')
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'input[email]')
    await page.keyboard.type('ada-at-example')
    await page.keyboard.press('Tab')
    await page.keyboard.press('Enter') // on "Start chat"
    await widget(page).getByText('Please enter a valid email address.').waitFor()
    await waitFor(async () => await focused(page) === 'input[email]', 15_000, 'the focus is back in the email field')
    assert.equal(await widget(page).locator('input[name=email]').getAttribute('aria-invalid'), 'true')

    await page.keyboard.press('ControlOrMeta+A')
    await page.keyboard.type('ada@example.com')
    await page.keyboard.press('Enter')
    await waitFor(async () => await focused(page) === 'textarea#input', 15_000, 'the focus is in the message box')
    await page.keyboard.type('I cannot log in')
    await page.keyboard.press('Enter')

    const cid = await chatOf(clarice, page)
    await agentGets(clarice, cid, 'I cannot log in')
    const context = (await conversation(desk.http, clarice.token, cid)).support?.context
    assert.equal(context?.name, 'Ada Lovelace')
    assert.equal(context?.email, 'ada@example.com')
    await waitForTexts(page, ['I cannot log in'])

    await page.keyboard.press('Escape')
    await composer(page).waitFor({ state: 'hidden' })
    assert.equal(await focused(page), 'button.launcher', 'the focus returns to the launcher')
    assert.equal(await launcher(page).getAttribute('aria-expanded'), 'false')
    await assertClean(host)
  })

  it('offers the host page window.ImChat with its events: open/close, unread, closed chat and rating, shutdown', async (t) => {
    const jack = await agent('Jack Bauer')
    const host = await visit(t)
    const { page } = host
    await page.waitForFunction(() => window.ImChat !== undefined)
    assert.equal(await page.evaluate(async () => await new Promise<string>((resolve) => { window.ImChat!.on('ready', ({ site }) => { resolve(site) }) })), desk.siteKey)
    assert.deepEqual(await domEvents(host, 'ready'), [{ site: desk.siteKey }])
    await page.evaluate((names) => {
      const w = window as unknown as HostWindow
      w.__api = []
      for (const name of names) window.ImChat!.on(name, (detail) => { w.__api.push({ name, detail: JSON.parse(JSON.stringify(detail)) }) })
    }, ['message', 'unread-count-changed', 'conversation-closed', 'open', 'close'] satisfies WidgetEventName[])
    const api = async (name: WidgetEventName): Promise<unknown[]> =>
      await page.evaluate((n) => (window as unknown as HostWindow).__api.filter((e) => e.name === n).map((e) => e.detail), name)

    await page.evaluate(() => { window.ImChat!.open() })
    await composer(page).waitFor()
    assert.equal(await page.evaluate(() => window.ImChat!.isOpen), true)
    await sendFromWidget(page, 'Is this thing on?')
    const cid = await chatOf(jack, page)
    await agentGets(jack, cid, 'Is this thing on?')
    await page.evaluate(() => { window.ImChat!.close() })
    await composer(page).waitFor({ state: 'hidden' })
    assert.equal(await page.evaluate(() => window.ImChat!.isOpen), false)
    assert.deepEqual(await domEvents(host, 'open'), [{}])
    assert.deepEqual(await domEvents(host, 'close'), [{}])
    assert.deepEqual(await api('open'), [{}])
    assert.deepEqual(await api('close'), [{}])

    // Closed panel: the agent's message is unread.
    await reply(jack, cid, 'Loud and clear.')
    await badge(page).waitFor({ state: 'visible' })
    assert.equal(await badge(page).textContent(), '1')
    assert.match(await launcher(page).getAttribute('aria-label') ?? '', /1 unread message/)
    await waitFor(async () => (await api('unread-count-changed')).length > 0, 15_000, 'the API reports the unread count')
    assert.deepEqual(await domEvents(host, 'unread-count-changed'), [{ count: 1 }])
    assert.deepEqual(await api('unread-count-changed'), [{ count: 1 }])
    assert.equal(await page.evaluate(() => window.ImChat!.unreadCount), 1)
    for (const detail of [...await domEvents(host, 'message'), ...await api('message')]) {
      const message = (detail as { message: Message }).message
      assert.equal(message.cid, cid)
      assert.deepEqual(message.body, { text: 'Loud and clear.' })
    }
    assert.equal((await api('message')).length, 1)
    assert.equal((await domEvents(host, 'message')).length, 1)

    // Opening the panel reads it.
    await page.evaluate(() => { window.ImChat!.open() })
    await badge(page).waitFor({ state: 'hidden' })
    await waitFor(async () => (await api('unread-count-changed')).length === 2, 15_000, 'the API reports the count read')
    assert.deepEqual(await domEvents(host, 'unread-count-changed'), [{ count: 1 }, { count: 0 }])
    assert.deepEqual(await api('unread-count-changed'), [{ count: 1 }, { count: 0 }])
    assert.equal(await page.evaluate(() => window.ImChat!.unreadCount), 0)

    // The agent ends the chat: the event, the notice, the rating form.
    await jack.command({ op: 'support.close', cid })
    await widget(page).getByText('The agent ended the chat.').waitFor()
    await waitFor(async () => (await api('conversation-closed')).length > 0, 15_000, 'the API reports the closed chat')
    for (const detail of [...await domEvents(host, 'conversation-closed'), ...await api('conversation-closed')]) {
      const closed = (detail as { conversation: { cid: string, support: { state: string } } }).conversation
      assert.equal(closed.cid, cid)
      assert.equal(closed.support.state, 'closed')
    }
    await widget(page).getByText('How was your chat?').waitFor()
    await widget(page).getByLabel('1 star', { exact: true }).focus()
    await page.keyboard.press('Space')
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight')
    assert.equal(await widget(page).getByLabel('4 stars').isChecked(), true)
    await page.keyboard.press('Tab')
    await page.keyboard.type('Quick and kind')
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'button.primary')
    await page.keyboard.press('Enter')
    await widget(page).getByText('Thank you for your feedback!').waitFor()
    const rating = await waitFor(async () => (await conversation(desk.http, jack.token, cid)).support?.rating, 15_000, 'the rating is stored')
    assert.deepEqual(rating, { score: 4, comment: 'Quick and kind' })

    // The host site's logout: this browser forgets the visitor; the next page load is a new one.
    const before = await visitorUid(page, desk.siteKey)
    await page.evaluate(async () => { await window.ImChat!.shutdown() })
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('im-chat:'))), [])
    await page.reload()
    await launcher(page).waitFor()
    await openPanel(page)
    const later = await visitorUid(page, desk.siteKey)
    assert.notEqual(later, before, 'a new visitor after shutdown')

    // A logout page where the chat never started forgets the visitor all the same.
    await page.reload()
    await launcher(page).waitFor()
    assert.ok(await visitorUid(page, desk.siteKey), 'the visitor is stored')
    await page.evaluate(async () => { await window.ImChat!.shutdown() })
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('im-chat:'))), [])
    await assertClean(host)
  })

  it('keeps the host page\'s CSS and the widget\'s apart', async (t) => {
    const host = await visit(t)
    const { page } = host
    const style = async (selector: string): Promise<{ background: string, fontSize: string }> => {
      const element = selector === 'launcher' ? launcher(page) : selector === 'send' ? widget(page).locator('im-chat-composer button') : page.locator(selector)
      return await element.evaluate((el) => ({ background: getComputedStyle(el).backgroundColor, fontSize: getComputedStyle(el).fontSize }))
    }
    const red = 'rgb(255, 0, 0)'
    const launcherStyle = await style('launcher')
    assert.equal(launcherStyle.background, 'rgb(37, 99, 235)', 'the launcher keeps its accent colour')
    assert.notEqual(launcherStyle.fontSize, '40px')
    assert.equal((await style('.host-button')).background, red, 'the host button keeps its own style')

    await openPanel(page)
    const send = await style('send')
    assert.notEqual(send.background, red, 'the panel\'s buttons are the widget\'s')
    assert.notEqual(send.fontSize, '40px')
    assert.deepEqual(await style('.host-button'), { background: red, fontSize: '40px' }, 'the open panel changes nothing on the host page')
    assert.equal(await page.locator('.host-text').evaluate((el) => getComputedStyle(el).color), 'rgb(0, 128, 0)')
    // What the site styles on purpose through ::part reaches inside, also the nested components' parts.
    assert.equal(await widget(page).locator('im-message-list .scroll').evaluate((el) => getComputedStyle(el).letterSpacing), '3px')
    assert.equal(await composer(page).evaluate((el) => getComputedStyle(el).letterSpacing), '4px')
    await assertClean(host)
  })

  it('speaks the host page\'s language (zh-CN)', async (t) => {
    const host = await visit(t, { lang: 'zh-CN' })
    const { page } = host
    assert.equal(await launcher(page).getAttribute('aria-label'), '打开在线客服')
    await openPanel(page)
    assert.equal(await composer(page).getAttribute('placeholder'), '输入消息…')
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN', 'the page\'s lang is left alone')
    await assertClean(host)
  })

  it('works as an element the site placed itself', async (t) => {
    const gil = await agent('Gil Grissom')
    const host = await visit(t, { element: true })
    const { page } = host
    assert.equal(await page.locator('im-chat-widget').count(), 1, 'the script adds no second widget')
    assert.equal(await page.evaluate(() => (window as unknown as { __apiAtReady?: string }).__apiAtReady), 'object', 'window.ImChat is there when im-ready fires')
    assert.equal(await widget(page).getAttribute('site'), desk.siteKey)
    await openPanel(page)
    await sendFromWidget(page, 'Placed by hand')
    const cid = await chatOf(gil, page)
    await agentGets(gil, cid, 'Placed by hand')
    await reply(gil, cid, 'Received.')
    await waitForTexts(page, ['Placed by hand', 'Received.'])
    await assertClean(host)
  })

  it('fills a phone-sized screen when open', async (t) => {
    const host = await visit(t)
    const { page } = host
    await page.setViewportSize({ width: 375, height: 700 })
    await openPanel(page)
    const frame = widget(page).locator('div.panel')
    await frame.evaluate(async (el) => { await Promise.all(el.getAnimations().map(async (a) => await a.finished)) }) // it slides in
    const box = await frame.boundingBox()
    assert.deepEqual(box, { x: 0, y: 0, width: 375, height: 700 })
    assert.equal(await launcher(page).isVisible(), false, 'the launcher steps aside: the panel\'s own minimize button closes it')
    await waitFor(async () => await focused(page) === 'textarea#input', 15_000, 'the focus is in the message box')
    await page.keyboard.press('Escape')
    await launcher(page).waitFor({ state: 'visible' })
    await assertClean(host)
  })
})
