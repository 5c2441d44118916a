/**
 * Broker nodes in MongoDB:
 *
 *   nodes     { _id: node, startedAt, expiresAt }   each node's lease, renewed by the node
 *   presence  { _id: '{uid}|{node}', uid, node }    uid has connections on node
 *             index { uid }, index { node }
 *
 * A presence document is written only by its own node (a connection's first and last on that
 * node), so writes of one document never race across nodes. [IM-PRESENCE-1]
 */
import type { Collection, Db } from 'mongodb'
import { KeyedLock } from '../../lib/keyed-lock.js'
import type { NodeRecord, NodeStore } from '../ports.js'
import { replaceOrInsert } from './connect.js'

type NodeDoc = Omit<NodeRecord, 'node'> & { _id: string }
interface PresenceDoc { _id: string, uid: string, node: string }

export class MongoNodeStore implements NodeStore {
  readonly #nodes: Collection<NodeDoc>
  readonly #presence: Collection<PresenceDoc>
  readonly #lock = new KeyedLock()

  constructor (db: Db) {
    this.#nodes = db.collection<NodeDoc>('nodes')
    this.#presence = db.collection<PresenceDoc>('presence')
  }

  static async open (db: Db): Promise<MongoNodeStore> {
    const store = new MongoNodeStore(db)
    await store.#presence.createIndex({ uid: 1 }, { name: 'by_uid' })
    await store.#presence.createIndex({ node: 1 }, { name: 'by_node' })
    return store
  }

  async renew (node: NodeRecord): Promise<void> {
    await this.#lock.run(`node:${node.node}`, async () => {
      await replaceOrInsert(this.#nodes, { _id: node.node, startedAt: node.startedAt, expiresAt: node.expiresAt })
    })
  }

  async list (): Promise<NodeRecord[]> {
    return (await this.#nodes.find({}).toArray()).map(({ _id, ...rest }) => ({ node: _id, ...rest }))
  }

  async remove (node: string): Promise<void> {
    await this.#presence.deleteMany({ node })
    await this.#nodes.deleteOne({ _id: node })
  }

  async setPresent (uid: string, node: string, present: boolean): Promise<void> {
    const _id = `${uid}|${node}`
    await this.#lock.run(_id, async () => {
      if (present) await replaceOrInsert(this.#presence, { _id, uid, node })
      else await this.#presence.deleteOne({ _id })
    })
  }

  async nodesOf (uid: string): Promise<string[]> {
    return (await this.#presence.find({ uid }, { projection: { node: 1 } }).toArray()).map((doc) => doc.node)
  }

  async presentOn (node: string): Promise<string[]> {
    return (await this.#presence.find({ node }, { projection: { uid: 1 } }).toArray()).map((doc) => doc.uid)
  }
}
