/**
 * The agent console's queue under a flood of bot visitors, in a real Chromium against a real
 * broker: 45 bots opened chats and wrote nothing, one visitor wrote. The console shows the head
 * of the queue — the visitor who wrote first, the bots after it marked "No message yet" — with
 * the count of all who wait, and pages on with "Show more", by keyboard; what is shown beyond the
 * head follows the queue's changes; axe finds nothing to fault. [IM-SUPPORT-RANK] [IM-SUPPORT-PAGE]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { axeViolations, ensureConsoleBuilt, haveChromium, launchChromium, newConsolePage, CHROMIUM_PATH, type Browser } from '../helpers/console.js'
import { adminToken, api, createUser, defaultSiteKey } from '../helpers/http.js'
import { join, type Participant } from '../helpers/im.js'

const skip = haveChromium() ? false : `Chromium is not installed at ${CHROMIUM_PATH}`
const BOTS = 45

/** A new visitor with an open chat; `words` are written in it over MQTT (acknowledged, so ranked). */
async function visitorChat (broker: TestBroker, siteKey: string, name: string, words?: string): Promise<{ cid: string, participant?: Participant }> {
  const v = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey })
  assert.equal(v.status, 200)
  const opened = await api(broker.httpUrl, 'POST', '/api/v1/support/conversations', { context: { name, url: `https://shop.example/${name.replace(/\s/g, '-').toLowerCase()}` } }, v.body.token)
  assert.equal(opened.status, 201)
  if (words === undefined) return { cid: opened.body.cid }
  const participant = await join(broker.mqttUrl, { uid: v.body.uid, token: v.body.token, role: 'visitor' }, undefined, true, { keepalive: 1 })
  await participant.command({ op: 'send', cmid: `w-${opened.body.cid}`, cid: opened.body.cid, type: 'text', body: { text: words } })
  return { cid: opened.body.cid, participant }
}

const rows = (page: Page) => page.locator('imc-queue-list li')
const names = async (page: Page): Promise<string[]> => await rows(page).locator('.name').allTextContents()

describe('the console\'s queue under a flood of bots', { skip }, () => {
  let browser: Browser
  let broker: TestBroker
  let siteKey: string
  let page: Page
  let pageErrors: string[]
  const participants: Participant[] = []

  before(async () => {
    // the bots come from one address: per-address and per-network limits lifted for the test's setup
    const [launched, started] = await Promise.all([launchChromium(), startTestBroker({ VISITORS_PER_IP_PER_MINUTE: 1000, NEW_VISITORS_SOURCE_SHARE_PERCENT: 100 }), ensureConsoleBuilt()])
    browser = launched
    broker = started
    const admin = await adminToken(broker.httpUrl)
    siteKey = await defaultSiteKey(broker.httpUrl, admin)
    await createUser(broker.httpUrl, admin, 'agent1', 'agent')
    for (let i = 0; i < BOTS; i++) await visitorChat(broker, siteKey, `Bot ${String(i + 1).padStart(2, '0')}`)
    const carol = await visitorChat(broker, siteKey, 'Carol Writer', 'My parcel never came')
    participants.push(carol.participant!)
    ;({ page, errors: pageErrors } = await newConsolePage(browser.context))
  })

  after(async () => {
    await Promise.all(participants.map(async (p) => { await p.close().catch(() => undefined) }))
    await browser?.close()
    await broker?.stop()
  })

  it('shows the head of the queue, the visitor who wrote first, with the count of all who wait', async () => {
    await page.goto(`${broker.httpUrl}/console`)
    await page.getByLabel('User id').fill('agent1')
    await page.getByLabel('Password').fill('pw-agent1-12345')
    await page.getByLabel('Password').press('Enter')
    await page.getByText('Signed in as agent1').waitFor()
    // away: the queue's changes reach the console, no chat is routed to it
    await page.getByLabel('Status').selectOption('away')
    await page.locator('imc-agent-status .dot.away').waitFor()
    const queue = page.locator('imc-queue-list')
    await queue.getByText(`${BOTS + 1} visitors waiting`).waitFor()
    await queue.getByText(`Showing 20 of ${BOTS + 1}`).waitFor()
    assert.equal(await rows(page).count(), 20)
    const shown = await names(page)
    assert.deepEqual(shown, ['Carol Writer', ...Array.from({ length: 19 }, (_, i) => `Bot ${String(i + 1).padStart(2, '0')}`)])
    assert.equal(await rows(page).nth(0).getByText('No message yet').count(), 0, 'the writer is not marked')
    assert.equal(await rows(page).nth(1).getByText('No message yet').count(), 1, 'a bot is')
    await page.screenshot({ path: '/tmp/console-queue.png' })
    await queue.getByRole('button', { name: 'Show more' }).scrollIntoViewIfNeeded()
    await page.screenshot({ path: '/tmp/console-queue-more.png' })
    assert.deepEqual(await axeViolations(page), [])
  })

  it('pages on with "Show more" by keyboard; the keyboard stays on the list when nothing more is left', async () => {
    const more = page.locator('imc-queue-list').getByRole('button', { name: 'Show more' })
    await more.focus()
    await page.keyboard.press('Enter')
    await page.locator('imc-queue-list').getByText(`Showing 40 of ${BOTS + 1}`).waitFor()
    assert.equal(await more.evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement), true, 'still on "Show more"')
    await page.keyboard.press('Enter')
    await rows(page).nth(BOTS).waitFor()
    assert.equal(await more.count(), 0, 'everything is shown')
    const last = rows(page).last().getByRole('button')
    assert.equal(await last.evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement), true, 'the last chat\'s button has the keyboard')
    assert.equal(new Set(await names(page)).size, BOTS + 1, 'each chat once')
    await page.screenshot({ path: '/tmp/console-queue-all.png' })
    assert.deepEqual(await axeViolations(page), [])
  })

  it('keeps what is shown beyond the head in step with the queue: a new writer comes in second, the rest stay listed once', async () => {
    const dave = await visitorChat(broker, siteKey, 'Dave Writer', 'Where is my refund?')
    participants.push(dave.participant!)
    await page.locator('imc-queue-list').getByText(`${BOTS + 2} visitors waiting`).waitFor()
    await rows(page).nth(1).locator('.name', { hasText: 'Dave Writer' }).waitFor()
    await rows(page).nth(BOTS + 1).waitFor()
    const shown = await names(page)
    assert.deepEqual(shown.slice(0, 3), ['Carol Writer', 'Dave Writer', 'Bot 01'])
    assert.equal(new Set(shown).size, BOTS + 2)
    assert.deepEqual(pageErrors, [])
  })
})
