/**
 * Wills on MongoDB: one document per client, `{ _id: clientId, clientId, packet }`, as
 * aedes-persistence-level keys them (aedes-persistence-mongodb inserts one more document each
 * time, so a CONNECT racing another of the same client id could leave two, and the one left over
 * be published after the next restart). `packet.brokerId` is the node that stored it, and a
 * delete that names a node takes only a will that node stored (will-keeper.ts).
 */
import type { Collection } from 'mongodb'
import { replaceOrInsert } from '../store/mongo/connect.js'
import { WillKeeper, type WillClient } from './will-keeper.js'

export interface WillPacket { clientId?: string, brokerId?: string }
export interface WillDoc { _id: string, clientId: string, packet: WillPacket }

/** payloads come back as Buffers, not BSON Binary */
const READ = { promoteBuffers: true } as const

export class MongoWills {
  readonly #collection: Collection<WillDoc>
  readonly #keeper = new WillKeeper()

  constructor (collection: Collection<WillDoc>) {
    this.#collection = collection
  }

  /** Read by client id at every CONNECT (aedes-persistence-mongodb has no index for it). */
  async createIndexes (): Promise<void> {
    await this.#collection.createIndex({ clientId: 1 }, { name: 'query_clientId' })
  }

  /** aedes' `putWill`: `packet` becomes the client's will, stored by `brokerId`. */
  async put (client: WillClient, packet: WillPacket, brokerId: string | undefined): Promise<void> {
    packet.clientId = client.id
    packet.brokerId = brokerId
    await this.#keeper.put(client, async () => { await replaceOrInsert(this.#collection, { _id: client.id, clientId: client.id, packet }) })
  }

  /** aedes' `delWill`: the will deleted, as aedes-persistence-mongodb answers it (its packet, or `null`). */
  async del (client: WillClient): Promise<WillPacket | null> {
    const deleted = await this.#keeper.del(client, async () => {
      const storedBy = client.brokerId === undefined ? {} : { 'packet.brokerId': client.brokerId }
      return await this.#collection.findOneAndDelete({ clientId: client.id, ...storedBy }, READ)
    })
    return deleted?.packet ?? null
  }

  /** Every will of the client (an expired session). */
  async drop (clientId: string): Promise<void> {
    await this.#collection.deleteMany({ clientId })
  }
}
