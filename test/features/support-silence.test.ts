import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, defaultSiteKey, type Principal } from '../helpers/http.js'
import { join, type Participant } from '../helpers/im.js'
import { sleep } from '../helpers/mqtt.js'

describe('silence release (optional timer)', () => {
  let broker: TestBroker
  let siteKey: string
  let agent: Principal
  const open: Participant[] = []
  before(async () => {
    // Idle release far away; silence release short: only the silence timer can close the chat.
    broker = await startTestBroker({ IDLE_RELEASE_MS: 600_000, SILENCE_RELEASE_MS: 1500 })
    const admin = await adminToken(broker.httpUrl)
    siteKey = await defaultSiteKey(broker.httpUrl, admin)
    agent = await createUser(broker.httpUrl, admin, 'agent1', 'agent')
  })
  after(async () => {
    await Promise.all(open.map(async (p) => { await p.close() }))
    await broker.stop()
  })

  it('closes an assigned chat whose connected visitor writes nothing, and keeps one whose visitor writes', async () => {
    const a = await join(broker.mqttUrl, agent)
    open.push(a)
    await a.command({ op: 'agent.status', status: 'online' })
    const visitors = await Promise.all([0, 1].map(async () => {
      const v = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey })
      const p = await join(broker.mqttUrl, { uid: v.body.uid, token: v.body.token, role: 'visitor' }, undefined, true, { keepalive: 1 })
      open.push(p)
      const cid = (await api(broker.httpUrl, 'POST', '/api/v1/support/conversations', {}, v.body.token)).body.cid as string
      await a.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)
      return { p, cid }
    }))
    const [quiet, chatty] = visitors as [{ p: Participant, cid: string }, { p: Participant, cid: string }]
    // The chatty visitor writes every 500 ms; the quiet one only keeps its connection alive.
    for (let i = 0; i < 6; i++) {
      await chatty.p.command({ op: 'send', cmid: `c${i}`, cid: chatty.cid, type: 'text', body: { text: `still here ${i}` } })
      await sleep(500)
    }
    const closed = await a.next('conv', (e) => e.type === 'closed' && e.conv.cid === quiet.cid, 5000)
    assert.equal(closed.conv.support?.closedReason, 'silence')
    const still = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${chatty.cid}`, undefined, agent.token)
    assert.equal(still.body.support.state, 'active')
  })
})
