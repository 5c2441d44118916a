/**
 * What the broker keeps in memory per visitor goes when the visitor goes. Visitors come through
 * the widget's flow — `POST /api/v1/visitors`, MQTT with a persistent session, a support chat
 * opened over HTTP, one message — and leave, half of them dropping the socket, half with a
 * DISCONNECT; `im_memory_entries` on the metrics listener counts the entries per structure.
 * Counts, not timings: the wait is for the disconnections to be handled.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { join, type Participant } from '../helpers/im.js'
import { waitFor } from '../helpers/mqtt.js'
import { DeskFixture, newVisitor, openChat } from '../helpers/support.js'

const VISITORS = 30

async function memoryEntries (metricsUrl: string, structure: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text()
  const line = text.split('\n').find((l) => l.startsWith(`im_memory_entries{structure="${structure}"} `))
  assert.ok(line, `im_memory_entries{structure="${structure}"} in /metrics`)
  return Number(line.split(' ')[1])
}

describe('memory per visitor', () => {
  let desk: DeskFixture
  before(async () => { desk = await DeskFixture.start() })
  after(async () => { await desk.stop() })

  it('forgets a visitor\'s traffic times once its last connection is gone, whether it dropped the socket or disconnected', async () => {
    const metrics = desk.broker.metricsUrl
    const idle = await memoryEntries(metrics, 'idle-release')
    const visitors: Participant[] = []
    for (let i = 0; i < VISITORS; i++) {
      const principal = await newVisitor(desk.http, desk.siteKey)
      const v = await join(desk.broker.mqttUrl, principal, `${principal.uid}-t1`, false, { keepalive: 30 })
      visitors.push(v)
      const { conv } = await openChat(desk.http, v, { url: 'https://shop.example/' })
      await v.command({ op: 'send', cmid: `${v.uid}-1`, cid: conv.cid, type: 'text', body: { text: 'hello' } })
      await v.next('msg', (e) => e.msg.cmid === `${v.uid}-1`)
    }
    assert.equal(await memoryEntries(metrics, 'idle-release'), idle + VISITORS, 'a connected visitor\'s traffic is kept in memory')

    for (const [i, v] of visitors.entries()) {
      if (i % 2 === 0) (v.client as unknown as { stream: { destroy: () => void } }).stream.destroy()
      else await v.client.endAsync()
    }
    await waitFor(async () => await memoryEntries(metrics, 'idle-release') === idle, 10_000, 'every visitor\'s entry to go')
      .catch(async () => { assert.fail(`im_memory_entries{structure="idle-release"} stays at ${await memoryEntries(metrics, 'idle-release')} after every visitor left (idle: ${idle})`) })

    // one coming back on its session is tracked again, and forgotten again when it leaves
    const again = visitors[1]!
    const back = await join(desk.broker.mqttUrl, { uid: again.uid, token: again.token, role: 'visitor' }, `${again.uid}-t1`, false)
    await waitFor(async () => await memoryEntries(metrics, 'idle-release') === idle + 1, 10_000, 'the returning visitor to be tracked')
    await back.close()
    await waitFor(async () => await memoryEntries(metrics, 'idle-release') === idle, 10_000, 'the returning visitor to be forgotten again')
  })
})
