/**
 * The agent console in a real Chromium against a real broker: an agent signs in, goes online,
 * gets a visitor's chat, writes with a scripted visitor both ways (typing, read, canned reply),
 * sees hostile markup as text, closes a chat and reads it back as a past chat, transfers a chat
 * to a second agent, watches an idle release, switches language — and, on a broker it kills with
 * SIGKILL and restarts, reconnects with the chat complete.
 *
 * Needs Debian's chromium at /usr/bin/chromium (.ci/run installs it); without it the suite is
 * skipped with a loud warning, never faked.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import { freePort, RestartableBroker, startTestBroker, type TestBroker } from '../helpers/broker.js'
import { ensureConsoleBuilt, haveChromium, launchChromium, newConsolePage, CHROMIUM_PATH, type Browser } from '../helpers/console.js'
import { adminToken, api, createUser, defaultSiteKey, type Principal } from '../helpers/http.js'
import { join, type Participant } from '../helpers/im.js'

const CHROMIUM = haveChromium()
if (!CHROMIUM) {
  process.stderr.write(`\n${'!'.repeat(78)}\n!!! SKIPPED: the agent console browser tests need Chromium at ${CHROMIUM_PATH}.\n!!! Install it (apt-get install chromium) — .ci/run does — to run them.\n${'!'.repeat(78)}\n\n`)
}
const skip = CHROMIUM ? false : `Chromium is not installed at ${CHROMIUM_PATH}`

/** Visitors ping every second, well inside IDLE_RELEASE_MS (the broker releases a silent visitor). */
const PINGING = { keepalive: 1 }
const IDLE_RELEASE_MS = 3000

const HOSTILE = '<img src=x onerror="window.__pwned=1;document.title=\'pwned\'">'

interface Visitor extends Principal { participant: Participant, cid: string }

async function openVisitorChat (broker: { httpUrl: string, mqttUrl: string }, siteKey: string, context: Record<string, string>): Promise<Visitor> {
  const v = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey })
  assert.equal(v.status, 200)
  const who = { uid: v.body.uid, token: v.body.token, role: 'visitor' }
  // A connected visitor counts as present while its traffic goes on: MQTT.js pings every second.
  const participant = await join(broker.mqttUrl, who, undefined, true, PINGING)
  const opened = await api(broker.httpUrl, 'POST', '/api/v1/support/conversations', { context }, who.token)
  assert.equal(opened.status, 201)
  return { ...who, participant, cid: opened.body.cid }
}

async function say (visitor: Visitor, text: string, cid = visitor.cid): Promise<number> {
  const cmid = `v-${Math.random().toString(36).slice(2, 10)}`
  await visitor.participant.command({ op: 'send', cmid, cid, type: 'text', body: { text } })
  const echo = await visitor.participant.next('msg', (e) => e.msg.cmid === cmid)
  return echo.msg.seq
}

/** Signs in with the keyboard only: the user id, Tab to the password, Enter. */
async function signIn (page: Page, httpUrl: string, uid: string): Promise<void> {
  await page.goto(`${httpUrl}/console`)
  await page.getByLabel('User id').focus()
  await page.keyboard.type(uid)
  await page.keyboard.press('Tab')
  await page.keyboard.type(`pw-${uid}-12345`)
  await page.keyboard.press('Enter')
  await page.getByText(`Signed in as ${uid}`).waitFor()
}

async function goOnline (page: Page): Promise<void> {
  await page.getByLabel('Status').selectOption('online')
  await page.locator('imc-agent-status .dot.online').waitFor()
}

const chatButton = (page: Page, name: string | RegExp) => page.locator('imc-chat-list').getByRole('button', { name })
const messages = (page: Page) => page.locator('imc-chat-view imc-message-list')
const statusLine = (page: Page) => page.locator('imc-chat-view .status')

describe('agent console in Chromium', { skip }, () => {
  let browser: Browser
  let broker: TestBroker
  let siteKey: string
  let agent2: Principal
  let page: Page
  let pageErrors: string[]
  const visitors: Visitor[] = []
  let ada: Visitor

  before(async () => {
    const [launched, started] = await Promise.all([launchChromium(), startTestBroker({ IDLE_RELEASE_MS, AGENT_CAPACITY: 3 }), ensureConsoleBuilt()])
    browser = launched
    broker = started
    const admin = await adminToken(broker.httpUrl)
    siteKey = await defaultSiteKey(broker.httpUrl, admin)
    const agent1 = await createUser(broker.httpUrl, admin, 'agent1', 'agent')
    agent2 = await createUser(broker.httpUrl, admin, 'agent2', 'agent')
    const canned = await api(broker.httpUrl, 'POST', '/api/v1/canned', { title: 'Greeting', text: 'Hello! How can I help you today?' }, agent1.token)
    assert.equal(canned.status, 201)
    ;({ page, errors: pageErrors } = await newConsolePage(browser.context))
  })

  after(async () => {
    await Promise.all(visitors.map(async (v) => { await v.participant.close().catch(() => undefined) }))
    await browser?.close()
    await broker?.stop()
  })

  it('is served with a strict Content-Security-Policy, and nothing outside the bundle', async () => {
    const res = await fetch(`${broker.httpUrl}/console`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /text\/html/)
    const csp = res.headers.get('content-security-policy') ?? ''
    assert.match(csp, /script-src 'self'/)
    assert.match(csp, /connect-src 'self' ws: wss:/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    const script = /src="\/console\/(console-[A-Z0-9]{8}\.js)"/.exec(await res.text())?.[1]
    assert.ok(script, 'index.html names the hashed script')
    assert.equal((await fetch(`${broker.httpUrl}/console/${script}`)).status, 200)
    for (const path of ['/console/../package.json', '/console/%2e%2e/package.json', '/console/..%2fpackage.json', '/console/%2e%2e%2f%2e%2e%2fpackage.json', '/console/console.js.map/../../../package.json']) {
      assert.equal((await fetch(`${broker.httpUrl}${path}`)).status, 404, path)
    }
  })

  it('signs in, shows the queue with wait times, goes online and receives an assignment', async () => {
    ada = await openVisitorChat(broker, siteKey, {
      name: 'Ada Visitor', email: 'ada@example.com', url: 'https://shop.example/cart?item=42',
      referrer: 'https://search.example/?q=shoes', locale: 'en-GB', userAgent: 'ScriptedVisitor/1.0'
    })
    visitors.push(ada)
    await say(ada, 'Hi, I need help with my order')

    await page.goto(`${broker.httpUrl}/console`)
    await page.getByLabel('User id').waitFor()
    await page.screenshot({ path: '/tmp/console-login.png' })
    await signIn(page, broker.httpUrl, 'agent1')
    const queued = page.locator('imc-queue-list li', { hasText: 'Ada Visitor' })
    await queued.getByText(/waiting \d+ s/).waitFor()
    await goOnline(page)

    const assigned = await ada.participant.next('conv', (e) => e.type === 'assigned')
    assert.equal(assigned.conv.support?.agent, 'agent1')
    await chatButton(page, /Ada Visitor/).waitFor()
    await queued.waitFor({ state: 'detached' })
    // The title badge counts the unread visitor message of the new chat.
    await page.waitForFunction(() => document.title === '(1) Agent console')
    assert.equal(await chatButton(page, /Ada Visitor/).locator('.badge').textContent(), '1')
  })

  it('exchanges messages both ways with typing and read indicators, canned replies and the visitor context', async () => {
    // Keyboard only: after the header's last control comes the first chat; its focus ring shows;
    // Enter opens it and puts the keyboard in the reply box.
    await page.getByRole('button', { name: 'Sign out' }).focus()
    await page.keyboard.press('Tab')
    const first = chatButton(page, /Ada Visitor/)
    assert.equal(await first.evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement), true)
    assert.equal(await first.evaluate((el) => getComputedStyle(el).outlineStyle), 'solid')
    await page.keyboard.press('Enter')
    await messages(page).getByText('Hi, I need help with my order').waitFor()
    const panel = page.locator('imc-visitor-panel')
    await panel.getByText('ada@example.com').waitFor()
    assert.equal(await panel.locator('[data-field=url] a').getAttribute('href'), 'https://shop.example/cart?item=42')
    for (const text of ['https://search.example/?q=shoes', 'en-GB', 'ScriptedVisitor/1.0']) await panel.getByText(text).waitFor()

    // Opening the chat reads it: the visitor is told, the badge goes.
    const read = await ada.participant.next('read', (e) => e.uid === 'agent1')
    assert.equal(read.seq, 1)
    await page.waitForFunction(() => document.title === 'Agent console')

    // The reply box has the keyboard after opening the chat; Enter sends.
    const reply = page.getByLabel('Your reply')
    assert.equal(await reply.evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement), true)
    await reply.pressSequentially('Let me check that for you')
    await ada.participant.next('typing', (e) => e.uid === 'agent1' && e.on)
    await reply.press('Enter')
    const answer = await ada.participant.next('msg', (e) => e.msg.from === 'agent1' && (e.msg.body as { text: string }).text === 'Let me check that for you')

    await ada.participant.command({ op: 'typing', cid: ada.cid, on: true }, 0)
    await statusLine(page).getByText('Ada Visitor is typing…').waitFor()
    await say(ada, 'Order 991, thanks!')
    await messages(page).getByText('Order 991, thanks!').waitFor()
    await statusLine(page).getByText('Ada Visitor is typing…').waitFor({ state: 'detached' })

    await ada.participant.command({ op: 'read', cid: ada.cid, seq: answer.msg.seq })
    await messages(page).locator(`[data-seq="${answer.msg.seq}"] .seen`).waitFor()

    await page.locator('imc-chat-composer select').selectOption({ label: 'Greeting' })
    assert.equal(await reply.inputValue(), 'Hello! How can I help you today?')
    await reply.press('Enter')
    await ada.participant.next('msg', (e) => (e.msg.body as { text: string }).text === 'Hello! How can I help you today?')
    await page.screenshot({ path: '/tmp/console-chat.png' })
  })

  it('shows hostile message text as text: no element is made, no handler runs', async () => {
    await say(ada, HOSTILE)
    await messages(page).getByText(HOSTILE, { exact: true }).waitFor()
    assert.equal(await page.locator('img').count(), 0)
    assert.equal(await page.evaluate(() => (window as { __pwned?: unknown }).__pwned), undefined)
    assert.notEqual(await page.title(), 'pwned')
  })

  it('closes a chat, and shows it as a past chat of the visitor\'s next one', async () => {
    await page.locator('imc-chat-view').getByRole('button', { name: 'Close chat' }).click()
    const closed = await ada.participant.next('conv', (e) => e.type === 'closed' && e.conv.cid === ada.cid)
    assert.equal(closed.conv.support?.closedReason, 'agent')
    await statusLine(page).getByText('This chat is closed: closed by the agent').waitFor()
    await page.locator('imc-chat-list .recent').getByRole('button', { name: /Ada Visitor/ }).waitFor()
    assert.equal(await page.getByLabel('Your reply').count(), 0)

    const again = await api(broker.httpUrl, 'POST', '/api/v1/support/conversations', { context: { name: 'Ada Visitor' } }, ada.token)
    assert.equal(again.status, 201)
    ada.cid = again.body.cid
    await ada.participant.next('conv', (e) => e.type === 'assigned' && e.conv.cid === ada.cid)
    await page.locator('imc-chat-list .active').getByRole('button', { name: /Ada Visitor/ }).click()
    await say(ada, 'Me again')
    await messages(page).getByText('Me again').waitFor()

    const past = page.locator('imc-visitor-panel ul[part=past] button')
    await past.first().waitFor()
    assert.equal(await past.count(), 1)
    await past.first().click()
    await page.locator('imc-chat-view').getByText('Past chat (read only)').waitFor()
    await messages(page).getByText('Hi, I need help with my order').waitFor()
    await page.getByRole('button', { name: 'Back to the current chat' }).click()
    await messages(page).getByText('Me again').waitFor()
  })

  it('transfers a chat to a second agent', async () => {
    const second = await join(broker.mqttUrl, agent2)
    visitors.push({ ...agent2, participant: second, cid: '' })
    // Away: the desk routes nothing new to agent2, but a colleague may hand it a chat.
    await second.command({ op: 'agent.status', status: 'away' })
    await second.next('agent', (e) => e.agent.status === 'away')

    const mallory = await openVisitorChat(broker, siteKey, { name: '<b>Mallory</b>' })
    visitors.push(mallory)
    await mallory.participant.next('conv', (e) => e.type === 'assigned' && e.conv.support?.agent === 'agent1')
    await say(mallory, 'Can someone from billing help?')
    await chatButton(page, /<b>Mallory<\/b>/).click()
    await page.locator('imc-chat-view').getByRole('heading', { name: 'Chat with <b>Mallory</b>' }).waitFor()

    await page.locator('imc-chat-view').getByRole('button', { name: 'Transfer' }).click()
    const dialog = page.locator('imc-transfer-dialog dialog')
    await dialog.getByLabel('agent2 (0 of 3 chats)').waitFor()
    await page.screenshot({ path: '/tmp/console-transfer.png' })
    assert.equal(await dialog.getByLabel('agent2 (0 of 3 chats)').isChecked(), true)
    await dialog.getByRole('button', { name: 'Transfer' }).click()

    const handed = await second.next('conv', (e) => e.type === 'transferred' && e.conv.cid === mallory.cid)
    assert.equal(handed.conv.support?.agent, 'agent2')
    assert.equal(handed.uid, 'agent1')
    await mallory.participant.next('conv', (e) => e.type === 'transferred')
    await statusLine(page).getByText('Transferred to agent2').waitFor()
    assert.equal(await page.getByLabel('Your reply').count(), 0)
    assert.equal(await page.locator('b').count(), 0)
  })

  it('sees an idle release when the visitor goes away', async () => {
    await page.locator('imc-chat-list .active').getByRole('button', { name: /Ada Visitor/ }).click()
    await page.locator('imc-agent-status .load', { hasText: /^1 of 3 chats$/ }).waitFor()
    await ada.participant.close()
    await statusLine(page).getByText('This chat is closed: the visitor left (idle)').waitFor({ timeout: IDLE_RELEASE_MS + 7000 })
    await page.locator('imc-agent-status .load', { hasText: /^0 of 3 chats$/ }).waitFor()
    await page.locator('imc-chat-list').getByText('No active chats.').waitFor()
  })

  it('switches to Simplified Chinese and back', async () => {
    await page.getByLabel('Language').first().selectOption('zh-CN')
    await page.getByText('客服工作台').waitFor()
    await page.getByLabel('状态').waitFor()
    await page.screenshot({ path: '/tmp/console-zh-CN.png' })
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN')
    await page.getByLabel('语言').first().selectOption('en')
    await page.getByText('Agent console', { exact: true }).waitFor()
    assert.deepEqual(pageErrors, [])
  })
})

describe('agent console across a broker restart', { skip }, () => {
  let browser: Browser
  let restartable: RestartableBroker
  let visitor: Participant | undefined

  before(async () => {
    const [mqttPort, httpPort] = [await freePort(), await freePort()]
    // Fixed ports and data: the restarted broker is the same broker to its clients.
    restartable = new RestartableBroker({ MQTT_PORT: String(mqttPort), HTTP_PORT: String(httpPort), IDLE_RELEASE_MS: '60000' })
    const [launched] = await Promise.all([launchChromium(), restartable.start(), ensureConsoleBuilt()])
    browser = launched
  })

  after(async () => {
    await visitor?.close().catch(() => undefined)
    await browser?.close()
    await restartable?.dispose()
  })

  it('shows the reconnect banner, reconnects, and the chat history is complete', async () => {
    const httpUrl = restartable.broker.httpUrl
    const admin = await adminToken(httpUrl)
    const siteKey = await defaultSiteKey(httpUrl, admin)
    await createUser(httpUrl, admin, 'agent3', 'agent')
    const { page, errors } = await newConsolePage(browser.context)
    await signIn(page, httpUrl, 'agent3')
    await goOnline(page)

    const v = await openVisitorChat(restartable.broker, siteKey, { name: 'Grace' })
    visitor = v.participant
    await v.participant.next('conv', (e) => e.type === 'assigned')
    await say(v, 'before the restart')
    await chatButton(page, /Grace/).click()
    await messages(page).getByText('before the restart').waitFor()
    await page.getByLabel('Your reply').fill('a reply before the restart')
    await page.getByLabel('Your reply').press('Enter')
    await v.participant.next('msg', (e) => e.msg.from === 'agent3')
    // The console has its echo too (the send is confirmed, not pending).
    await messages(page).locator('article[data-seq]', { hasText: 'a reply before the restart' }).waitFor()

    await restartable.kill('SIGKILL')
    await v.participant.close()
    await page.locator('imc-connection-banner').getByText(/Reconnecting|Connection lost/).waitFor()
    // Written while the broker is down: kept, and sent once the console is back.
    await page.getByLabel('Your reply').fill('written while the broker was down')
    await page.getByLabel('Your reply').press('Enter')
    await messages(page).locator('article.pending', { hasText: 'written while the broker was down' }).getByText('Waiting for the connection…').waitFor()
    await page.screenshot({ path: '/tmp/console-reconnecting.png' })

    const again = await restartable.start()
    visitor = await join(again.mqttUrl, { uid: v.uid, token: v.token, role: 'visitor' }, undefined, true, PINGING)
    await page.locator('imc-connection-banner [role=status]').waitFor({ state: 'hidden', timeout: 15_000 })
    await visitor.next('msg', (e) => (e.msg.body as { text: string }).text === 'written while the broker was down', 10_000)
    const cmid = 'v-after-restart'
    await visitor.command({ op: 'send', cmid, cid: v.cid, type: 'text', body: { text: 'after the restart' } })
    await messages(page).getByText('after the restart').waitFor()

    const texts = await messages(page).locator('article[data-seq] .text').allTextContents()
    assert.deepEqual(texts, ['before the restart', 'a reply before the restart', 'written while the broker was down', 'after the restart'])
    const seqs = await messages(page).locator('article[data-seq]').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-seq'))))
    assert.deepEqual(seqs, [1, 2, 3, 4])
    assert.equal(await messages(page).locator('article.pending').count(), 0)
    await page.screenshot({ path: '/tmp/console-after-restart.png' })
    assert.deepEqual(errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e)), [])
  })
})
