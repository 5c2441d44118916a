/**
 * The retained messages a SUBSCRIBE receives, found by key instead of by scanning. [IM-PERF-3]
 *
 * aedes-persistence-level answers every SUBSCRIBE by reading every retained message and testing
 * each against the filter, so the cost of a subscription grew with the store: every visitor's
 * retained presence made every later visitor's SUBSCRIBE slower. Retained messages are keyed
 * `retained:{topic}`, so:
 * - a filter without wildcards is one key read;
 * - a filter whose wildcards come after some literal levels reads only the keys under that prefix
 *   (`im/p/+` reads `retained:im/p/…`);
 * - only a filter that starts with a wildcard (`#`, `+/…`) reads them all — as any broker must.
 * Matching follows MQTT, also [MQTT-4.7.2-1] for `$` topics (`matches` in acl/topic-filter.ts).
 */
import type { AbstractSublevel } from 'abstract-level'
import msgpack from 'msgpack-lite'
import { matches } from '../acl/topic-filter.js'
import type { RootDb } from '../store/level/open.js'

type Sublevel = AbstractSublevel<RootDb, string | Buffer | Uint8Array, string, string>

/** aedes-persistence-level's key prefix of retained messages (asyncPersistence.js `RETAINED`, v9). */
const RETAINED = 'retained:'
const BUFFER = { valueEncoding: 'buffer' } as const

export async function * retainedFor<P extends { topic: string }> (db: Sublevel, patterns: readonly string[]): AsyncGenerator<P> {
  for (const pattern of patterns) yield * retainedForPattern<P>(db, pattern)
}

async function * retainedForPattern<P extends { topic: string }> (db: Sublevel, pattern: string): AsyncGenerator<P> {
  const levels = pattern.split('/')
  const wild = levels.findIndex((level) => level === '+' || level === '#')
  if (wild === -1) {
    const blob = await db.get(RETAINED + pattern, BUFFER) as Buffer | undefined
    if (blob !== undefined) yield msgpack.decode(blob) as P
    return
  }
  const literal = levels.slice(0, wild).join('/')
  // `a/#` also matches the parent topic `a` itself [MQTT-4.7.1-2]
  if (wild > 0 && levels[wild] === '#' && wild === levels.length - 1) {
    const parent = await db.get(RETAINED + literal, BUFFER) as Buffer | undefined
    if (parent !== undefined) yield msgpack.decode(parent) as P
  }
  // every key under `{literal}/`: '0' is the character after '/', so the range ends there
  const range = wild === 0 ? { gte: RETAINED, lt: 'retained;' } : { gte: `${RETAINED}${literal}/`, lt: `${RETAINED}${literal}0` }
  for await (const blob of db.values({ ...range, ...BUFFER }) as AsyncIterable<Buffer>) {
    const packet = msgpack.decode(blob) as P
    if (matches(pattern, packet.topic)) yield packet
  }
}

/**
 * Every retained message whose topic is not under `{prefix}/`, read in the two key ranges around
 * it: counting the retained messages outside `im/` at start skips every visitor's presence
 * without decoding it.
 */
export async function * retainedOutside<P extends { topic: string }> (db: Sublevel, prefix: string): AsyncGenerator<P> {
  for (const range of [{ gte: RETAINED, lt: `${RETAINED}${prefix}/` }, { gte: `${RETAINED}${prefix}0`, lt: 'retained;' }]) {
    for await (const blob of db.values({ ...range, ...BUFFER }) as AsyncIterable<Buffer>) yield msgpack.decode(blob) as P
  }
}
