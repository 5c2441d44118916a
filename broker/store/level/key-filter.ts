/**
 * A Bloom filter of stored keys, growing as keys are added: it answers "certainly not stored" for
 * almost every key that is not, so a new message's cmid needs no LevelDB read — a read that costs
 * main-thread CPU for the call itself and, on a large store, makes LevelDB compact for every miss.
 * It never answers "not stored" for a stored key (no false negatives); a false positive (about 1 %)
 * costs one read. Until it has read every stored key at start, it answers "maybe". [IM-PERF-2]
 */
const BITS_PER_KEY = 10 // with 7 hashes: about 1 % false positives
const HASHES = 7
const FIRST_CAPACITY = 1 << 16

class Layer {
  readonly bits: Uint32Array
  readonly size: number
  count = 0

  constructor (readonly capacity: number) {
    this.size = capacity * BITS_PER_KEY
    this.bits = new Uint32Array(Math.ceil(this.size / 32))
  }

  add (h1: number, h2: number): void {
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + i * h2) % this.size
      this.bits[bit >>> 5]! |= 1 << (bit & 31)
    }
    this.count++
  }

  has (h1: number, h2: number): boolean {
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + i * h2) % this.size
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false
    }
    return true
  }
}

export class KeyFilter {
  readonly #layers: Layer[] = [new Layer(FIRST_CAPACITY)]
  #loaded = false

  /** Reads every stored key once; keys added meanwhile are kept too. */
  async load (keys: AsyncIterable<string>): Promise<void> {
    for await (const key of keys) this.add(key)
    this.#loaded = true
  }

  get loaded (): boolean {
    return this.#loaded
  }

  add (key: string): void {
    let layer = this.#layers.at(-1)!
    if (layer.count >= layer.capacity) this.#layers.push(layer = new Layer(layer.capacity * 2))
    const [h1, h2] = hashes(key)
    layer.add(h1, h2)
  }

  /** false: certainly not stored; true: maybe (or not loaded yet). */
  mightHave (key: string): boolean {
    if (!this.#loaded) return true
    const [h1, h2] = hashes(key)
    return this.#layers.some((layer) => layer.has(h1, h2))
  }
}

/** Two independent 32-bit FNV-1a hashes of the key (different offset bases), for double hashing. */
function hashes (key: string): [number, number] {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193) >>> 0
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0
  }
  return [a, (b | 1) >>> 0]
}
