/**
 * The cluster emitter on its own (broker/cluster/): two emitters on one Redis stand for two
 * nodes. What the start refuses, how a message crosses, and what each node still does for
 * itself while Redis is away. (Whole brokers on it: two-nodes.test.ts.)
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { describeRedisUrl, openClusterEmitter, type ClusterEmitter } from '../../broker/cluster/emitter.js'
import type { MqPacket } from '../../broker/cluster/redis-mq.js'
import { freePort } from '../helpers/broker.js'
import { sleep, waitFor } from '../helpers/mqtt.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'

const log = pino({ level: 'silent' })

/** Subscribes `filter` on an emitter and collects the topics (and payloads) delivered to it. */
async function listen (node: ClusterEmitter, filter: string): Promise<Array<{ topic: string, payload: string }>> {
  const got: Array<{ topic: string, payload: string }> = []
  await new Promise<void>((resolve) => {
    node.mq!.on(filter, (packet, done) => { got.push({ topic: packet.topic, payload: String(packet.payload) }); done() }, resolve)
  })
  return got
}

async function emit (node: ClusterEmitter, packet: MqPacket): Promise<void> {
  await new Promise<void>((resolve, reject) => { node.mq!.emit(packet, (err) => (err ? reject(err) : resolve())) })
}

describe('the cluster emitter', () => {
  it('is aedes\' own in-memory one without CLUSTER_REDIS_URL', async () => {
    const single = await openClusterEmitter({}, log)
    assert.equal(single.kind, 'single')
    assert.equal(single.mq, undefined)
    assert.deepEqual(await single.health(), { kind: 'single', ok: true })
    await single.close()
  })

  it('fails the start within seconds when Redis cannot be reached, naming the host and never the password', async () => {
    const closed = await freePort()
    for (const [url, where] of [
      [`redis://:s3cret-pw@127.0.0.1:${closed}`, `127.0.0.1:${closed}`],
      ['redis://user:s3cret-pw@no-such-host.invalid:6380/2', 'no-such-host.invalid:6380/2']
    ] as const) {
      const started = Date.now()
      await assert.rejects(openClusterEmitter({ CLUSTER_REDIS_URL: url }, log, { startTimeoutMs: 3000 }), (err: Error) => {
        assert.match(err.message, new RegExp(`^Cannot reach Redis at ${where.replaceAll('.', '\\.')} \\(CLUSTER_REDIS_URL\\): `))
        assert.doesNotMatch(err.message, /s3cret/)
        return true
      })
      assert.ok(Date.now() - started < 4000, `gave up after ${Date.now() - started} ms`)
    }
  })

  it('describes a URL by host, port and database, with the password scrubbed from messages', () => {
    const d = describeRedisUrl('rediss://default:p%40ss-word@cache.example:6390/3')
    assert.equal(d.where, 'cache.example:6390/3 (TLS)')
    assert.equal(d.scrub('WRONGPASS p@ss-word and p%40ss-word'), 'WRONGPASS *** and ***')
    assert.equal(describeRedisUrl('redis://127.0.0.1').where, '127.0.0.1:6379')
  })

  describe('two nodes on one Redis', () => {
    let redis: RedisServer
    let a: ClusterEmitter
    let b: ClusterEmitter

    before(async () => {
      redis = await startRedis()
      a = await openClusterEmitter({ CLUSTER_REDIS_URL: redis.url }, log)
      b = await openClusterEmitter({ CLUSTER_REDIS_URL: redis.url }, log)
    })
    after(async () => {
      await a?.close()
      await b?.close()
      await redis?.stop()
    })

    it('delivers what one node emits to the listeners of both, once each, exact and wildcard filters alike', async () => {
      const onA = await listen(a, 'x/one')
      const exactOnB = await listen(b, 'x/one')
      const wildOnB = await listen(b, 'x/+')
      const allOnB = await listen(b, 'x/#')
      for (let i = 1; i <= 3; i++) await emit(a, { topic: 'x/one', payload: Buffer.from(`m${i}`) })
      await waitFor(() => onA.length === 3 && exactOnB.length === 3 && wildOnB.length === 3 && allOnB.length === 3, 3000, 'three messages on every listener')
      await sleep(200)
      for (const got of [onA, exactOnB, wildOnB, allOnB]) assert.deepEqual(got.map((m) => m.payload), ['m1', 'm2', 'm3'])
    })

    it('matches filters whose levels hold Redis glob characters as MQTT does', async () => {
      const onB = await listen(b, 'g/[x]/+')
      const backslash = await listen(b, 'g/a\\b/#')
      const question = await listen(b, 'g/?/+')
      for (const topic of ['g/[x]/t', 'g/x/t', 'g/a\\b/c', 'g/ab/c', 'g/?/t', 'g/q/t']) await emit(a, { topic, payload: Buffer.from(topic) })
      await waitFor(() => onB.length === 1 && backslash.length === 1 && question.length === 1, 3000, 'one message per filter')
      await sleep(200)
      assert.deepEqual([onB, backslash, question].map((got) => got.map((m) => m.topic)), [['g/[x]/t'], ['g/a\\b/c'], ['g/?/t']])
    })

    it('reports Redis healthy', async () => {
      assert.deepEqual(await a.health(), { kind: 'redis', ok: true })
    })

    it('while Redis is away: reports it, delivers on its own node only, subscribes at once, keeps the peers it heard alive, and closes', async (t) => {
      if (redis.kind === 'external') {
        t.skip('REDIS_URL names a Redis this test must not stop')
        return
      }
      const heartbeatsOnA = await listen(a, '$SYS/+/heartbeat')
      await emit(b, { topic: '$SYS/node-b/heartbeat', payload: Buffer.from('node-b') })
      await waitFor(() => heartbeatsOnA.some((m) => m.payload === 'node-b'), 3000, 'b\'s heartbeat on a')
      const onA = await listen(a, 'down/t')
      const onB = await listen(b, 'down/t')

      await redis.stop()
      const health = await waitFor(async () => { const h = await a.health(); return h.ok ? undefined : h }, 5000, 'a reports Redis down')
      assert.equal(health.kind, 'redis')
      assert.match(health.error ?? '', /^Redis at 127\.0\.0\.1:\d+ is unreachable/)

      await emit(a, { topic: 'down/t', payload: Buffer.from('here only') })
      assert.deepEqual(onA.map((m) => m.payload), ['here only'])
      const subscribed = Date.now()
      const late = await listen(a, 'down/late')
      assert.ok(Date.now() - subscribed < 500, 'a subscription completes without Redis')
      await emit(a, { topic: 'down/late', payload: Buffer.from('late') })
      assert.deepEqual(late.map((m) => m.payload), ['late'])

      heartbeatsOnA.length = 0
      await emit(a, { topic: '$SYS/node-a/heartbeat', payload: Buffer.from('node-a') })
      assert.deepEqual(heartbeatsOnA.map((m) => m.payload).sort(), ['node-a', 'node-b'], 'b is vouched for on a')

      await sleep(200)
      assert.deepEqual(onB, [], 'nothing crossed')
      const closing = Date.now()
      await a.close()
      await b.close()
      assert.ok(Date.now() - closing < 3000, 'closing does not wait for Redis')
    })
  })
})
