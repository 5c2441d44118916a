/**
 * Attempts counted before they are made, for the embedded backend: in this process's memory (one
 * node; the counts need not outlive a restart, as rate-limit counters never did). Each take
 * decides and counts in one synchronous step, so no two concurrent takes can see the same room.
 * [IM-LIMIT-1]
 */
import type { AttemptStore, AttemptTake, AttemptTally } from '../ports.js'

interface Slot { slot: number, at: number, expiresAt: number }

/** How often, at most, keys whose attempts all expired are forgotten. */
const SWEEP_MS = 60_000

export class MemoryAttemptStore implements AttemptStore {
  readonly #keys = new Map<string, Slot[]>()
  readonly #now: () => number
  #sweptAt = 0

  constructor (now: () => number = Date.now) {
    this.#now = now
  }

  async take (key: string, at: number, expiresAt: number, allow: (tally: AttemptTally) => boolean): Promise<AttemptTake> {
    this.#sweep()
    const slots = this.#live(key)
    const tally = tallyOf(slots)
    if (!allow(tally)) return { taken: false, tally }
    const slot = slots.reduce((top, s) => Math.max(top, s.slot + 1), 0)
    slots.push({ slot, at, expiresAt })
    this.#keys.set(key, slots)
    return { taken: true, slot }
  }

  async giveBack (key: string, slot: number): Promise<void> {
    const slots = this.#keys.get(key)?.filter((s) => s.slot !== slot)
    if (slots?.length) this.#keys.set(key, slots)
    else this.#keys.delete(key)
  }

  async clear (key: string): Promise<void> {
    this.#keys.delete(key)
  }

  #live (key: string): Slot[] {
    const now = this.#now()
    return (this.#keys.get(key) ?? []).filter((s) => s.expiresAt > now)
  }

  #sweep (): void {
    const now = this.#now()
    if (now - this.#sweptAt < SWEEP_MS) return
    this.#sweptAt = now
    for (const [key, slots] of this.#keys) {
      if (slots.every((s) => s.expiresAt <= now)) this.#keys.delete(key)
    }
  }
}

export function tallyOf (slots: ReadonlyArray<{ at: number }>): AttemptTally {
  if (slots.length === 0) return { count: 0 }
  return { count: slots.length, lastAt: slots.reduce((latest, s) => Math.max(latest, s.at), 0) }
}
