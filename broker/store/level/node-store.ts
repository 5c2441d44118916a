/**
 * Broker nodes in the embedded store (one node by design; the port is the same as MongoDB's):
 *
 *   nodes          {node}          → NodeRecord
 *   presence       {uid}!{node}    → ''   (uid has connections on node)
 *   presence-node  {node}!{uid}    → ''   (the same, by node)
 */
import type { NodeRecord, NodeStore } from '../ports.js'
import type { RootDb } from './open.js'

const range = (prefix: string): { gt: string, lt: string } => ({ gt: `${prefix}!`, lt: `${prefix}!\xff` })

export class LevelNodeStore implements NodeStore {
  readonly #nodes
  readonly #byUid
  readonly #byNode

  constructor (root: RootDb) {
    this.#nodes = root.sublevel<string, NodeRecord>('nodes', { valueEncoding: 'json' })
    this.#byUid = root.sublevel<string, string>('presence', { valueEncoding: 'utf8' })
    this.#byNode = root.sublevel<string, string>('presence-node', { valueEncoding: 'utf8' })
  }

  async renew (node: NodeRecord): Promise<void> { await this.#nodes.put(node.node, node) }
  async list (): Promise<NodeRecord[]> { return await this.#nodes.values().all() }

  async remove (node: string): Promise<void> {
    const uids = await this.presentOn(node)
    await this.#byUid.batch(uids.map((uid) => ({ type: 'del' as const, key: `${uid}!${node}` })))
    await this.#byNode.clear(range(node))
    await this.#nodes.del(node)
  }

  async setPresent (uid: string, node: string, present: boolean): Promise<void> {
    if (present) {
      await this.#byUid.put(`${uid}!${node}`, '')
      await this.#byNode.put(`${node}!${uid}`, '')
    } else {
      await this.#byUid.del(`${uid}!${node}`)
      await this.#byNode.del(`${node}!${uid}`)
    }
  }

  async nodesOf (uid: string): Promise<string[]> {
    return (await this.#byUid.keys(range(uid)).all()).map((key) => key.slice(uid.length + 1))
  }

  async presentOn (node: string): Promise<string[]> {
    return (await this.#byNode.keys(range(node)).all()).map((key) => key.slice(node.length + 1))
  }
}
