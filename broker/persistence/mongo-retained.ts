/**
 * Retained messages on MongoDB, found by key instead of by scanning. [IM-PERF-3]
 *
 * aedes-persistence-mongodb keeps one document per topic (unique index on `topic`) and answers a
 * SUBSCRIBE with one unanchored regular expression over `topic`, which no index can bound: every
 * retained message is read for every SUBSCRIBE. It also writes them through one bulk whose errors
 * it drops, so a retained PUBLISH could be acknowledged and never stored [IM-Q-5]. Here each
 * document's `_id` is its topic — the only key FerretDB 1.24 looks up without reading the whole
 * collection — and, as in retained-lookup.ts for LevelDB:
 * - a filter without wildcards is one `_id` read;
 * - a filter whose wildcards come after some literal levels reads only the `_id` range under that
 *   prefix (`im/p/+` reads `im/p/…`);
 * - only a filter that starts with a wildcard (`#`, `+/…`) reads them all — as any broker must.
 * Matching follows MQTT, also [MQTT-4.7.2-1] for `$` topics (`matches` in acl/topic-filter.ts),
 * and each filter's messages come in topic order (`_id` compares as UTF-8 bytes, like LevelDB keys).
 */
import type { Collection, Filter } from 'mongodb'
import { matches } from '../acl/topic-filter.js'
import { KeyedLock } from '../lib/keyed-lock.js'
import { replaceOrInsert } from '../store/mongo/connect.js'

/** A retained PUBLISH as aedes hands it over, stored with its topic as `_id`. */
export interface RetainedPacket { topic: string, payload: Buffer, qos: number, retain: boolean, cmd: 'publish' }
export type RetainedDoc = RetainedPacket & { _id: string }

/** Payloads come back as Buffers (not BSON Binary), and without the `_id`. */
const READ = { promoteBuffers: true, projection: { _id: 0 } } as const

export class MongoRetained {
  readonly #collection: Collection<RetainedDoc>
  /** writes of one topic land in the order aedes asked for them (the last retained message wins) */
  readonly #lock = new KeyedLock()

  constructor (collection: Collection<RetainedDoc>) {
    this.#collection = collection
  }

  /** Keeps `packet` as the topic's retained message; an empty payload clears it. [MQTT-3.3.1-10] */
  async store (packet: RetainedPacket): Promise<void> {
    await this.#lock.run(packet.topic, async () => {
      if (packet.payload.length === 0) {
        await this.#collection.deleteOne({ _id: packet.topic })
      } else {
        // the whole packet, as aedes-persistence-level keeps it: a later message leaves nothing of an earlier one
        await replaceOrInsert(this.#collection, { ...packet, _id: packet.topic })
      }
    })
  }

  /** The retained messages for a SUBSCRIBE's filters, filter by filter. */
  async * find<P extends { topic: string }> (patterns: readonly string[]): AsyncGenerator<P> {
    for (const pattern of patterns) yield * this.#forPattern<P>(pattern)
  }

  /**
   * Every retained message whose topic is not under `{prefix}/`, read in the two `_id` ranges
   * around it: counting the retained messages outside `im/` at start skips every visitor's presence.
   */
  async * outside<P extends { topic: string }> (prefix: string): AsyncGenerator<P> {
    yield * this.#range<P>({ _id: { $lt: `${prefix}/` } })
    yield * this.#range<P>({ _id: { $gte: `${prefix}0` } })
  }

  async * #forPattern<P extends { topic: string }> (pattern: string): AsyncGenerator<P> {
    const levels = pattern.split('/')
    const wild = levels.findIndex((level) => level === '+' || level === '#')
    if (wild === -1) {
      const packet = await this.#one<P>(pattern)
      if (packet) yield packet
      return
    }
    const literal = levels.slice(0, wild).join('/')
    // `a/#` also matches the parent topic `a` itself [MQTT-4.7.1-2]
    if (wild > 0 && levels[wild] === '#' && wild === levels.length - 1) {
      const parent = await this.#one<P>(literal)
      if (parent) yield parent
    }
    // every topic under `{literal}/`: '0' is the character after '/', so the range ends there
    const range: Filter<RetainedDoc> = wild === 0 ? {} : { _id: { $gte: `${literal}/`, $lt: `${literal}0` } }
    for await (const packet of this.#range<P>(range)) {
      if (matches(pattern, packet.topic)) yield packet
    }
  }

  async #one<P> (topic: string): Promise<P | undefined> {
    return (await this.#collection.findOne({ _id: topic }, READ) ?? undefined) as P | undefined
  }

  async * #range<P> (filter: Filter<RetainedDoc>): AsyncGenerator<P> {
    yield * this.#collection.find(filter, READ).sort({ _id: 1 }) as AsyncIterable<P>
  }
}
