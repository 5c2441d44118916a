/**
 * The MQTT persistence contract, the rest of a session's state: subscriptions, retained messages
 * [IM-PERF-3], wills, and session expiry [IM-SESSION-1]. Run by mqtt-persistence.contract.ts.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { matches } from '../../broker/acl/topic-filter.js'
import { byBytes, byClient, byTopic, drain, fanOut, message, queue, queueingFor, retained, retainedFor, retainedPackets, topics, type Stored, type WithStore } from './mqtt-persistence.harness.js'

export function runSessionStateContract (withStore: WithStore): void {
  it('adds, finds (by topic and by client), replaces and removes subscriptions', withStore({}, async (h) => {
    await h.p.addSubscriptions({ id: 'c1' }, [{ topic: 'chat/+', qos: 1 }])
    await h.p.addSubscriptions({ id: 'c2' }, [{ topic: 'chat/room', qos: 2 }, { topic: 'x/y', qos: 1 }])
    await h.p.addSubscriptions({ id: 'c3' }, [{ topic: 'chat/room', qos: 0 }])
    assert.deepEqual(await queueingFor(h.p, 'chat/room'), [['c1', 'chat/+', 1], ['c2', 'chat/room', 2]])
    assert.deepEqual(await byClient(h.p, 'c2'), [['chat/room', 2], ['x/y', 1]])
    assert.deepEqual(await byClient(h.p, 'c3'), [['chat/room', 0]])

    await h.p.addSubscriptions({ id: 'c2' }, [{ topic: 'x/y', qos: 2 }])
    assert.deepEqual(await byClient(h.p, 'c2'), [['chat/room', 2], ['x/y', 2]], 'replaced, not added')
    await h.p.removeSubscriptions({ id: 'c2' }, ['chat/room'])
    assert.deepEqual(await queueingFor(h.p, 'chat/room'), [['c1', 'chat/+', 1]])
    assert.deepEqual(await byClient(h.p, 'c2'), [['x/y', 2]])
    await h.p.cleanSubscriptions({ id: 'c1' })
    assert.deepEqual(await byClient(h.p, 'c1'), [])
    assert.deepEqual(await queueingFor(h.p, 'chat/room'), [])

    const later = await h.restart()
    assert.deepEqual(await queueingFor(later.p, 'x/y'), [['c2', 'x/y', 2]], 'kept across a restart')
    assert.deepEqual(await byClient(later.p, 'c2'), [['x/y', 2]])
  }))

  it('stores a SUBSCRIBE\'s filters once though aedes stores them once per filter, all at once', withStore({}, async (h) => {
    // lib/handlers/subscribe.js storeSubscriptions: each filter's step stores the packet's whole list
    const subs = [{ topic: 'a/1', qos: 1 }, { topic: 'a/2', qos: 1 }, { topic: 'a/3', qos: 2 }]
    await Promise.all(subs.map(() => h.p.addSubscriptions({ id: 'c1' }, subs)))
    assert.deepEqual(await byClient(h.p, 'c1'), [['a/1', 1], ['a/2', 1], ['a/3', 2]])
    await h.p.removeSubscriptions({ id: 'c1' }, ['a/1', 'a/3'])
    assert.deepEqual(await byClient(h.p, 'c1'), [['a/2', 1]])
    const later = await h.restart()
    assert.deepEqual(await byClient(later.p, 'c1'), [['a/2', 1]], 'no copy left to come back')
    assert.deepEqual(await queueingFor(later.p, 'a/1'), [])
  }))

  it('finds retained messages by filter, each filter\'s in topic order, `$` topics only when named', withStore({}, async (h) => {
    const stored = ['a', 'a/b', 'a/b/c', 'a/bc', 'ab', 'a//c', 'x/a/b', 'im/p/alice', 'im/p/al', 'im/u/alice/in', '$app/x', 'sensors/温度/1', 'imx']
    for (const topic of stored) await h.p.storeRetained(retained(topic, `v:${topic}`))
    for (const pattern of ['#', '+', '+/+', '+/b', 'a/#', 'a/+', 'a/+/c', 'a/b', 'im/p/+', 'im/#', '$app/#', '$app/x', '+/x', 'sensors/温度/+', 'none', 'none/#']) {
      const expected = stored.filter((t) => matches(pattern, t)).sort(byBytes)
      assert.deepEqual(await retainedFor(h.p, [pattern]), expected.map((t) => [t, `v:${t}`]), pattern)
    }
    assert.deepEqual((await retainedFor(h.p, ['a/#'])).map(([t]) => t), ['a', 'a//c', 'a/b', 'a/b/c', 'a/bc'], 'its parent a, never ab')
    assert.deepEqual((await retainedFor(h.p, ['im/p/alice', 'a'])).map(([t]) => t), ['im/p/alice', 'a'], 'filter by filter')
    const [packet] = await retainedPackets(h.p, ['a/b'])
    assert.ok(Buffer.isBuffer(packet!.payload))
    assert.equal(packet!.retain, true)
    assert.equal(packet!.qos, 1)

    await h.p.storeRetained(retained('a/b', 'replaced'))
    await h.p.storeRetained(retained('a/bc', ''))
    assert.deepEqual(await retainedFor(h.p, ['a/b', 'a/bc']), [['a/b', 'replaced']])
    assert.deepEqual((await retainedFor(h.p, ['a/+'])).map(([t]) => t), ['a/b'], 'an empty payload clears it')
    assert.deepEqual(await retainedFor((await h.restart()).p, ['a/b']), [['a/b', 'replaced']], 'kept across a restart')
  }))

  it('lists the retained messages outside a prefix', withStore({}, async (h) => {
    for (const topic of ['im/p/alice', 'im/u/alice/in', 'im', 'imx', 'i', 'sensors/1', '$app/x', 'im0']) await h.p.storeRetained(retained(topic, 'v'))
    const outside: string[] = []
    for await (const packet of h.p.retainedOutside('im')) {
      assert.ok(Buffer.isBuffer(packet.payload))
      outside.push(packet.topic)
    }
    assert.deepEqual(outside.sort(byBytes), ['$app/x', 'i', 'im', 'im0', 'imx', 'sensors/1'])
  }))

  it('keeps, returns and deletes a client\'s will', withStore({}, async (h) => {
    await h.p.putWill({ id: 'c1' }, { cmd: 'publish', topic: 'status/c1', payload: Buffer.from('gone'), qos: 1, retain: true })
    const will = await h.p.getWill({ id: 'c1' }) as Stored
    assert.deepEqual([will.topic, Buffer.from(will.payload).toString(), will.qos, will.retain, will.clientId, will.brokerId], ['status/c1', 'gone', 1, true, 'c1', h.broker.id])
    assert.ok(!await h.p.getWill({ id: 'c2' }))
    assert.equal((await h.p.delWill({ id: 'c1' }) as Stored).topic, 'status/c1')
    assert.ok(!await h.p.getWill({ id: 'c1' }))

    // one will per client: a new one replaces it, and once deleted none is left
    await h.p.putWill({ id: 'c2' }, { cmd: 'publish', topic: 'first', payload: Buffer.from('1'), qos: 0, retain: false })
    await h.p.putWill({ id: 'c2' }, { cmd: 'publish', topic: 'second', payload: Buffer.from('2'), qos: 0, retain: false })
    assert.equal((await h.p.getWill({ id: 'c2' }) as Stored).topic, 'second')
    await h.p.delWill({ id: 'c2' })
    assert.ok(!await h.p.getWill({ id: 'c2' }))
  }))

  // aedes deletes a stored will as the connection that stored it closes (lib/client.js `close`,
  // `{ id, brokerId }`), and before it stores a new connection's will (lib/handlers/connect.js
  // `storeWill`, with the new connection). A takeover closes the old connection after the new one
  // stored its will: the old one's delete must leave the new will.
  it('a will stored by another broker is not deleted by this one', withStore({}, async (h) => {
    const old = { id: 'c1', closed: false }
    await h.p.putWill(old, will('status/c1', 'old'))
    // the client id connects to another broker, which stores the new connection's will…
    const other = await h.restart()
    const taker = { id: 'c1', closed: false }
    await other.p.delWill(taker)
    await other.p.putWill(taker, will('status/c1', 'new'))
    // …and this broker closes the old connection, which deletes the will this broker stored
    old.closed = true
    assert.ok(!await h.p.delWill({ id: 'c1', brokerId: h.broker.id }), 'nothing deleted')
    assert.deepEqual(willOf(await h.p.getWill({ id: 'c1' })), ['new', other.broker.id])
    // the other broker deletes it as its connection closes; so does a broker that takes it for
    // dead, once it published the will (aedes.js `_clearWills` names the dead broker)
    assert.deepEqual(willOf(await h.p.delWill({ id: 'c1', brokerId: other.broker.id })), ['new', other.broker.id])
    assert.ok(!await other.p.getWill({ id: 'c1' }))
  }))

  it('a will stored by a connection that took the client id over is not deleted by the one it closed', withStore({}, async (h) => {
    const old = { id: 'c1', closed: false }
    await h.p.delWill(old)
    await h.p.putWill(old, will('status/c1', 'old'))
    const taker = { id: 'c1', closed: false }
    await h.p.delWill(taker)
    await h.p.putWill(taker, will('status/c1', 'new'))
    old.closed = true // aedes' registerClient closes the old connection [MQTT-3.1.4-2]
    assert.ok(!await h.p.delWill({ id: 'c1', brokerId: h.broker.id }), 'nothing deleted')
    assert.deepEqual(willOf(await h.p.getWill({ id: 'c1' })), ['new', h.broker.id])
    taker.closed = true
    assert.deepEqual(willOf(await h.p.delWill({ id: 'c1', brokerId: h.broker.id })), ['new', h.broker.id])
    assert.ok(!await h.p.getWill({ id: 'c1' }))
  }))

  it('drops an expired session: its subscriptions, queue and will, and frees its queue', withStore({ maxMessages: 2 }, async (h) => {
    for (const id of ['c1', 'c2']) {
      await h.p.addSubscriptions({ id }, [{ topic: 't/+', qos: 1 }])
      await h.p.putWill({ id }, { cmd: 'publish', topic: `will/${id}`, payload: Buffer.from('x'), qos: 0, retain: false })
    }
    await fanOut(h.p, message(h.broker, 't/1'))
    await fanOut(h.p, message(h.broker, 't/2'))
    await h.p.dropSession('c1')
    assert.deepEqual(await byClient(h.p, 'c1'), [])
    assert.deepEqual(await byTopic(h.p, 't/3'), [['c2', 't/+', 1]])
    assert.ok(!await h.p.getWill({ id: 'c1' }))
    assert.deepEqual(await drain(h, h.p, { id: 'c1', clean: false }), [])
    assert.deepEqual([...await h.p.storedClientIds()], ['c2'])
    // its queue starts empty again
    await queue(h.p, ['c1'], message(h.broker, 't/a'))
    await queue(h.p, ['c1'], message(h.broker, 't/b'))
    assert.deepEqual(h.drops, [])
    // the other session keeps everything
    assert.deepEqual(topics(await drain(h, h.p, { id: 'c2', clean: false })), ['t/1', 't/2'])
    assert.equal((await h.p.getWill({ id: 'c2' }) as Stored).topic, 'will/c2')
  }))

  it('lists the client ids that have subscriptions or queued messages stored', withStore({}, async (h) => {
    assert.deepEqual([...await h.p.storedClientIds()], [])
    await h.p.addSubscriptions({ id: 'tab:1' }, [{ topic: 'a', qos: 1 }])
    await h.p.addSubscriptions({ id: 'ü/%20 x' }, [{ topic: 'a', qos: 0 }, { topic: 'b', qos: 1 }])
    await queue(h.p, ['queued-only'], message(h.broker, 'q'))
    await h.p.putWill({ id: 'will-only' }, { cmd: 'publish', topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false })
    assert.deepEqual([...await h.p.storedClientIds()].sort(), ['queued-only', 'tab:1', 'ü/%20 x'])
    assert.deepEqual([...await (await h.restart()).p.storedClientIds()].sort(), ['queued-only', 'tab:1', 'ü/%20 x'])
  }))
}

const will = (topic: string, body: string): object => ({ cmd: 'publish', topic, payload: Buffer.from(body), qos: 1, retain: false })

/** A will's payload and the broker that stored it. */
function willOf (packet: unknown): [string, string] {
  assert.ok(packet, 'a will')
  const { payload, brokerId } = packet as Stored
  return [Buffer.from(payload).toString(), brokerId]
}
