/**
 * The retained messages a SUBSCRIBE receives are found by key or key range [IM-PERF-3], and are
 * exactly those MQTT says match [MQTT-4.7.1-2] [MQTT-4.7.2-1]: checked against every pattern on
 * a real LevelDB holding the persistence's own encoding, and shown not to read the whole store.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { matches } from '../../../broker/acl/topic-filter.js'
import { BoundedLevelPersistence } from '../../../broker/persistence/bounded-queue.js'
import { retainedFor } from '../../../broker/persistence/retained-lookup.js'
import { ResumeGate } from '../../../broker/persistence/resume-gate.js'
import { openLevel, type RootDb } from '../../../broker/store/level/open.js'
import { tempDataDir } from '../../helpers/broker.js'

const TOPICS = [
  'a', 'a/b', 'a/b/c', 'a/bc', 'ab', 'ab/c', 'a//c', 'a/b/c/d', 'x/a/b',
  'im/p/alice', 'im/p/al', 'im/p/alice/x', 'im/u/alice/in',
  '$app/x', '$app/x/y', '$SYS/b1/heartbeat', 'sensors/温度/1', 'sensors/温度', 'sensors/t0'
]
const PATTERNS = [
  '#', '+', '+/+', '+/b', 'a/#', 'a/+', 'a/+/c', 'a/b', 'a/b/#', 'ab/#', 'a//c', 'a/+/+/+',
  'im/p/+', 'im/p/alice', 'im/#', 'im/+/alice/#', '$app/#', '$app/+', '+/x', 'sensors/#', 'sensors/温度/+', 'nothing/here/#', 'none'
]

describe('retained lookup', () => {
  let dir: string
  let root: RootDb
  let persistence: BoundedLevelPersistence
  before(async () => {
    dir = tempDataDir()
    root = await openLevel(dir)
    persistence = new BoundedLevelPersistence(root, { resume: new ResumeGate(), maxMessages: 10, maxAgeMs: 1000, now: Date.now, onDrop: () => undefined })
    for (const topic of TOPICS) {
      await persistence.storeRetained({ cmd: 'publish', topic, payload: Buffer.from(`v:${topic}`), retain: true, qos: 1 })
    }
  })
  after(async () => {
    await root.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const found = async (patterns: string[]): Promise<string[]> => {
    const topics: string[] = []
    for await (const packet of persistence.createRetainedStreamCombi(patterns) as AsyncIterable<{ topic: string, payload: Buffer }>) {
      assert.equal(packet.payload.toString(), `v:${packet.topic}`)
      topics.push(packet.topic)
    }
    return topics.sort()
  }

  it('finds exactly what each filter matches, $ topics only for filters that name them', async () => {
    for (const pattern of PATTERNS) {
      assert.deepEqual(await found([pattern]), TOPICS.filter((t) => matches(pattern, t)).sort(), pattern)
    }
    assert.deepEqual(await found(['#']), TOPICS.filter((t) => !t.startsWith('$')).sort())
    assert.deepEqual(await found(['a/#']), ['a', 'a//c', 'a/b', 'a/b/c', 'a/b/c/d', 'a/bc'], 'a/# holds its parent a, never ab')
  })

  it('answers every filter of one SUBSCRIBE, in order', async () => {
    assert.deepEqual(await found(['im/p/alice', 'a/b']), ['a/b', 'im/p/alice'])
  })

  it('lists every retained message outside im/, $ topics included, without reading those under im/', async () => {
    const outside: string[] = []
    for await (const packet of persistence.retainedOutside('im')) outside.push(packet.topic)
    assert.deepEqual(outside.sort(), TOPICS.filter((t) => !t.startsWith('im/')).sort())
  })

  it('reads only the keys under a filter\'s literal levels, not the whole store', async () => {
    for (let i = 0; i < 2000; i++) {
      const topic = `im/p/v_${String(i).padStart(4, '0')}`
      await persistence.storeRetained({ cmd: 'publish', topic, payload: Buffer.from(`v:${topic}`), retain: true, qos: 1 })
    }
    // the lookup over the persistence's own sublevel, counting every value it reads
    const mqtt = root.sublevel<string, string>('mqtt', {})
    let read = 0
    const counting = {
      get: async (key: string, options: object) => { read++; return await mqtt.get(key, options) },
      values: (options: object) => {
        const inner = mqtt.values(options) as AsyncIterable<unknown>
        return (async function * () { for await (const v of inner) { read++; yield v } })()
      }
    }
    const lookup = async (pattern: string): Promise<number> => {
      read = 0
      for await (const _ of retainedFor(counting as never, [pattern])) { /* drain */ }
      return read
    }
    assert.equal(await lookup('a/b'), 1, 'a topic is one key')
    assert.equal(await lookup('a/+/c'), 5, 'a/+/c reads the five topics under a/ (and none of the 2,000 presences)')
    assert.equal(await lookup('im/p/+'), 2003, 'im/p/+ reads what is under im/p/')
    assert.ok(await lookup('#') > 2000, 'only a filter that starts with a wildcard reads everything')
  })
})
