/**
 * Customer service on three broker nodes behind nginx (test/helpers/cluster.ts), with the clients
 * the product ships: the visitor on the widget's client library (ImClient on the minimal MQTT
 * transport, MQTT over WebSocket through nginx's `/mqtt`), the agents on the console's (ImClient on
 * MQTT.js, also over WebSocket). Each one lands on another node, so every step — assignment,
 * chat both ways, transfer, close and rating — crosses nodes through Redis and MongoDB.
 * [IM-SUPPORT-1]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { WebSocket } from 'ws'
import { ImClient } from '../../shared/client/core.js'
import { createImClient } from '../../shared/client/index.js'
import { MiniMqttTransport, type WebSocketCtor } from '../../shared/client/mini-mqtt/mini-transport.js'
import type { ConvEvent, Message } from '../../shared/protocol.js'
import { NginxCluster } from '../helpers/cluster.js'
import { createUser, defaultSiteKey } from '../helpers/http.js'
import { waitFor } from '../helpers/mqtt.js'
import { assertOneOwner, newVisitor } from '../helpers/support.js'

const WS = WebSocket as unknown as WebSocketCtor

interface Side { client: ImClient, node: number, messages: Message[], convs: ConvEvent[] }

describe('customer service through nginx on three nodes, with the widget\'s and the console\'s client libraries', () => {
  let cluster: NginxCluster
  let siteKey: string
  const open: ImClient[] = []

  before(async () => {
    cluster = await NginxCluster.start({ dbPrefix: 'support_lb' })
    siteKey = await defaultSiteKey(cluster.lb.httpUrl, cluster.admin)
  })
  after(async () => {
    await Promise.all(open.map(async (c) => { await c.close() }))
    await cluster?.stop()
  })

  /**
   * Connects a client through nginx until it lands on a node none of `taken` is on (round robin:
   * at most a few tries), and collects what it receives.
   */
  const side = async (make: (attempt: number) => ImClient, taken: number[]): Promise<Side> => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const client = make(attempt)
      const { node } = await cluster.landing(async () => { await client.connect(); return client })
      if (taken.includes(node)) {
        await client.close()
        continue
      }
      open.push(client)
      const messages: Message[] = []
      const convs: ConvEvent[] = []
      client.on('message', (m) => messages.push(m))
      client.on('conv', (e) => convs.push(e))
      return { client, node, messages, convs }
    }
    throw new Error(`no node but ${taken.join(', ')} took the client`)
  }
  const agent = async (uid: string, taken: number[]): Promise<Side> => {
    const who = await createUser(cluster.lb.httpUrl, cluster.admin, uid, 'agent')
    return await side((i) => createImClient({ mqttUrl: cluster.lb.wsUrl, httpUrl: cluster.lb.httpUrl, uid, token: who.token, clientId: `${uid}-console-${i}` }), taken)
  }
  const texts = (s: Side, cid: string): string[] => s.messages.filter((m) => m.cid === cid).map((m) => (m.body as { text: string }).text)
  const conv = async (s: Side, type: ConvEvent['type'], cid: string): Promise<ConvEvent> =>
    await waitFor(() => s.convs.find((e) => e.type === type && e.conv.cid === cid), 10_000, `${type} of ${cid}`)

  it('assigns, chats both ways, transfers, closes and rates across nodes', async () => {
    const first = await agent('lb-agent-1', [])
    const who = await newVisitor(cluster.lb.httpUrl, siteKey)
    const visitor = await side((i) => new ImClient({
      mqttUrl: cluster.lb.wsUrl, httpUrl: cluster.lb.httpUrl, uid: who.uid, token: who.token, clientId: `${who.uid}-widget-${i}`, transport: new MiniMqttTransport({ WebSocket: WS })
    }), [first.node])
    const second = await agent('lb-agent-2', [first.node, visitor.node])
    assert.equal(new Set([first.node, visitor.node, second.node]).size, 3, 'one client per node')

    await first.client.support({ op: 'agent.status', status: 'online', capacity: 2 })
    const chat = await visitor.client.openSupport({ name: 'Vera', locale: 'en' })
    const cid = chat.cid
    await conv(first, 'assigned', cid)
    await conv(visitor, 'assigned', cid)

    await visitor.client.send(cid, 'my order is late')
    await waitFor(() => texts(first, cid).includes('my order is late'), 10_000, 'the agent reads the visitor')
    await first.client.send(cid, 'let me check')
    await waitFor(() => texts(visitor, cid).includes('let me check'), 10_000, 'the visitor reads the agent')

    await second.client.support({ op: 'agent.status', status: 'online', capacity: 1 })
    await first.client.support({ op: 'support.transfer', cid, to: 'lb-agent-2' })
    await conv(second, 'transferred', cid)
    await conv(visitor, 'transferred', cid)
    await second.client.send(cid, 'it ships today')
    await waitFor(() => texts(visitor, cid).includes('it ships today'), 10_000, 'the visitor reads the second agent')
    assert.deepEqual([...(await assertOneOwner(cluster.lb.httpUrl, cluster.admin, [cid])).values()], ['lb-agent-2'])

    await visitor.client.support({ op: 'support.close', cid })
    await conv(second, 'closed', cid)
    await visitor.client.support({ op: 'support.rate', cid, score: 5, comment: 'quick' })
    const rated = await conv(second, 'rated', cid)
    assert.deepEqual(rated.conv.support?.rating, { score: 5, comment: 'quick' })

    const history = await cluster.history(cid, who.token)
    assert.deepEqual(history.map((m) => [m.seq, (m.body as { text: string }).text]), [[1, 'my order is late'], [2, 'let me check'], [3, 'it ships today']])
    assert.deepEqual(texts(visitor, cid), ['my order is late', 'let me check', 'it ships today'], 'the widget side: each message once, in seq order')
    await assertOneOwner(cluster.lb.httpUrl, cluster.admin, [cid]) // closed: in nobody's list
  })
})
