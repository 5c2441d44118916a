/**
 * Reads V8 heap snapshots (`.heapsnapshot`, the format Chrome's DevTools load; written by
 * inspector.ts) to say what grew between two of them taken from one process, and what holds it.
 *
 * - `histogram`: objects per kind — `object:Object`, `object:Array`, `closure:onTimeout`… (the
 *   node's type and its constructor's or function's name) — with their count and self size.
 * - `newObjectHolders`: for the objects of the given kinds that are new in the later snapshot (V8
 *   keeps an object's id from one snapshot to the next: an id the earlier one lacks is new), the path by which the heap holds each — the shortest path from
 *   the roots over strong edges, as DevTools' "Retainers" lists first — cut to the holder's
 *   chain, and counted per path: what keeps thousands of them reachable shows as one path.
 */
import { readFileSync } from 'node:fs'

interface Meta {
  node_fields: string[]
  node_types: [string[], ...unknown[]]
  edge_fields: string[]
  edge_types: [string[], ...unknown[]]
}

interface RawSnapshot {
  snapshot: { meta: Meta, node_count: number, edge_count: number }
  nodes: number[]
  edges: number[]
  strings: string[]
}

const NODE_FIELDS = ['type', 'name', 'id', 'self_size', 'edge_count'] as const
type NodeField = typeof NODE_FIELDS[number]

export interface KindCount { count: number, bytes: number }

export class HeapSnapshot {
  readonly nodeCount: number
  readonly #raw: RawSnapshot
  readonly #nodeWidth: number
  readonly #edgeWidth: number
  readonly #nodeTypes: string[]
  readonly #edgeTypes: string[]
  /** index of each node's first edge in `edges` (in edge fields, not edges) */
  readonly #firstEdge: Uint32Array
  readonly #offset: Record<NodeField, number>

  constructor (file: string) {
    this.#raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot
    const meta = this.#raw.snapshot.meta
    this.#nodeWidth = meta.node_fields.length
    this.#edgeWidth = meta.edge_fields.length
    this.#nodeTypes = meta.node_types[0]
    this.#edgeTypes = meta.edge_types[0]
    this.#offset = Object.fromEntries(NODE_FIELDS.map((f) => [f, meta.node_fields.indexOf(f)])) as Record<NodeField, number>
    this.nodeCount = this.#raw.nodes.length / this.#nodeWidth
    this.#firstEdge = new Uint32Array(this.nodeCount + 1)
    for (let n = 0, edge = 0; n < this.nodeCount; n++) {
      this.#firstEdge[n] = edge
      edge += this.#field(n, 'edge_count') * this.#edgeWidth
    }
    this.#firstEdge[this.nodeCount] = this.#raw.edges.length
  }

  /** Every object id in this snapshot. */
  ids (): Set<number> {
    const ids = new Set<number>()
    for (let n = 0; n < this.nodeCount; n++) ids.add(this.#field(n, 'id'))
    return ids
  }

  /** `type:name` of node `n`, names of strings and numbers left out (their content is no kind). */
  kind (n: number): string {
    const type = this.#nodeTypes[this.#field(n, 'type')] ?? '?'
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number') return type
    const name = this.#raw.strings[this.#field(n, 'name')] ?? ''
    return `${type}:${name.length > 60 ? `${name.slice(0, 57)}...` : name}`
  }

  histogram (): Map<string, KindCount> {
    const kinds = new Map<string, KindCount>()
    for (let n = 0; n < this.nodeCount; n++) {
      const key = this.kind(n)
      const entry = kinds.get(key) ?? { count: 0, bytes: 0 }
      entry.count++
      entry.bytes += this.#field(n, 'self_size')
      kinds.set(key, entry)
    }
    return kinds
  }

  /**
   * For every object of `kinds` whose id is not in `before` (an earlier snapshot's `ids()`), its
   * holding path (up to `depth` holders), counted per path; the most frequent first.
   */
  newObjectHolders (kinds: ReadonlySet<string>, before: ReadonlySet<number>, depth = 8): Array<{ path: string, count: number }> {
    const parent = this.#shortestPathTree()
    const paths = new Map<string, number>()
    for (let n = 0; n < this.nodeCount; n++) {
      if (before.has(this.#field(n, 'id')) || !kinds.has(this.kind(n))) continue
      const steps: string[] = [this.kind(n)]
      for (let at = n, hop = 0; hop < depth; hop++) {
        const edge = parent.edge[at]!
        const from = parent.node[at]!
        if (from === NONE) { steps.push('(unreachable)'); break }
        steps.push(`[${this.#edgeName(edge)}] ${this.kind(from)}`)
        if (from === 0) break
        at = from
      }
      const path = steps.join(' <- ')
      paths.set(path, (paths.get(path) ?? 0) + 1)
    }
    return [...paths].map(([path, count]) => ({ path, count })).sort((a, b) => b.count - a.count)
  }

  /** Breadth-first from the root (node 0) over strong edges: each node's first holder and edge. */
  #shortestPathTree (): { node: Uint32Array, edge: Uint32Array } {
    const node = new Uint32Array(this.nodeCount).fill(NONE)
    const edge = new Uint32Array(this.nodeCount)
    const weak = this.#edgeTypes.indexOf('weak')
    const shortcut = this.#edgeTypes.indexOf('shortcut')
    const queue = new Uint32Array(this.nodeCount)
    let head = 0
    let tail = 0
    queue[tail++] = 0
    node[0] = 0
    const { edges } = this.#raw
    const toField = this.#raw.snapshot.meta.edge_fields.indexOf('to_node')
    while (head < tail) {
      const from = queue[head++]!
      for (let e = this.#firstEdge[from]!; e < this.#firstEdge[from + 1]!; e += this.#edgeWidth) {
        const type = edges[e]!
        if (type === weak || type === shortcut) continue
        const to = edges[e + toField]! / this.#nodeWidth
        if (node[to] !== NONE) continue
        node[to] = from
        edge[to] = e
        queue[tail++] = to
      }
    }
    node[0] = NONE
    return { node, edge }
  }

  #edgeName (e: number): string {
    const { edges, strings } = this.#raw
    const type = this.#edgeTypes[edges[e]!] ?? '?'
    const nameOrIndex = edges[e + 1]!
    // indexes differ for every entry of one array or table: left out, paths through it are one
    if (type === 'element' || type === 'hidden') return ''
    const name = strings[nameOrIndex] ?? '?'
    if (type === 'property') return name
    return /^\d+$/.test(name) ? type : `${type} ${name}`
  }

  #field (n: number, name: NodeField): number {
    return this.#raw.nodes[n * this.#nodeWidth + this.#offset[name]]!
  }
}

const NONE = 0xffffffff

/** The kinds whose count grew most from `before` to `after`. */
export function growth (before: Map<string, KindCount>, after: Map<string, KindCount>, top = 20): Array<{ kind: string, count: number, bytes: number }> {
  return [...after].map(([kind, a]) => {
    const b = before.get(kind) ?? { count: 0, bytes: 0 }
    return { kind, count: a.count - b.count, bytes: a.bytes - b.bytes }
  }).sort((x, y) => y.count - x.count).slice(0, top)
}
