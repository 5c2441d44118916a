import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, defaultSiteKey, type Principal } from '../helpers/http.js'
import { join, type Participant } from '../helpers/im.js'

describe('support desk (smoke)', () => {
  let broker: TestBroker
  let siteKey: string
  let agent: Principal
  const open: Participant[] = []
  before(async () => {
    broker = await startTestBroker({ IDLE_RELEASE_MS: 1500 })
    const admin = await adminToken(broker.httpUrl)
    siteKey = await defaultSiteKey(broker.httpUrl, admin)
    agent = await createUser(broker.httpUrl, admin, 'agent1', 'agent')
  })
  after(async () => {
    await Promise.all(open.map(async (p) => { await p.close() }))
    await broker.stop()
  })

  it('queues a visitor, assigns it to an agent who comes online, chats, and releases it when the visitor goes', async () => {
    const v = await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey })
    const visitor = await join(broker.mqttUrl, { uid: v.body.uid, token: v.body.token, role: 'visitor' })
    open.push(visitor)
    const opened = await api(broker.httpUrl, 'POST', '/api/v1/support/conversations', { context: { url: 'https://shop.example/cart', locale: 'zh-CN' } }, v.body.token)
    assert.equal(opened.status, 201)
    const cid = opened.body.cid
    const notice = await visitor.next('notice', (e) => e.cid === cid)
    assert.equal(notice.code, 'offline')
    assert.match(notice.text, /客服/)
    await visitor.command({ op: 'send', cmid: 'v1', cid, type: 'text', body: { text: 'anyone there?' } })
    const a = await join(broker.mqttUrl, agent)
    open.push(a)
    await a.command({ op: 'agent.status', status: 'online' })
    const assigned = await a.next('conv', (e) => e.type === 'assigned' && e.conv.cid === cid)
    assert.equal(assigned.conv.support?.agent, 'agent1')
    const history = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}/messages?after=0`, undefined, agent.token)
    assert.equal(history.body.messages[0].body.text, 'anyone there?')
    await a.command({ op: 'send', cmid: 'a1', cid, type: 'text', body: { text: 'hello!' } })
    await visitor.next('msg', (e) => e.msg.cmid === 'a1')
    await visitor.close()
    const closed = await a.next('conv', (e) => e.type === 'closed' && e.conv.cid === cid, 6000)
    assert.equal(closed.conv.support?.closedReason, 'idle')
    const me = await api(broker.httpUrl, 'GET', '/api/v1/agents/me', undefined, agent.token)
    assert.deepEqual(me.body.active, [])
  })
})
