/**
 * Who owns what on the support desk, in MongoDB, decided by unique keys so it holds across broker
 * nodes — also on servers whose conditional updates are not atomic across connections (FerretDB):
 *
 *   support_slots    { _id: '{uid}#{k}', uid, cid, at }   k < capacity; unique { uid, cid }
 *   support_claims   { _id: cid, agent, at }              the chat's one owner
 *   support_visitor  { _id: '{site}!{visitor}', cid }     the visitor's one open chat on a site
 *
 * Taking a slot is inserting slot k for the first free k below the capacity: two nodes racing
 * for an agent's last slot insert the same _id, and one of them fails. A claim is an insert of
 * the chat's _id; a visitor's place likewise. [IM-SUPPORT-1] [IM-SUPPORT-CLAIM]
 */
import type { Collection, Db } from 'mongodb'
import { KeyedLock } from '../../lib/keyed-lock.js'
import { isDuplicateKey } from './connect.js'

interface SlotDoc { _id: string, uid: string, cid: string, at: number }
interface ClaimDoc { _id: string, agent: string, at: number }
interface PlaceDoc { _id: string, cid: string }

/** How often an insert that lost to a document deleted right after is tried again. */
const RETRIES = 5

export class MongoSupportRouting {
  readonly #slots: Collection<SlotDoc>
  readonly #claims: Collection<ClaimDoc>
  readonly #places: Collection<PlaceDoc>
  readonly #lock = new KeyedLock()

  constructor (db: Db) {
    this.#slots = db.collection<SlotDoc>('support_slots')
    this.#claims = db.collection<ClaimDoc>('support_claims')
    this.#places = db.collection<PlaceDoc>('support_visitor')
  }

  async ensureIndexes (): Promise<void> {
    await this.#slots.createIndex({ uid: 1, cid: 1 }, { name: 'one_slot_per_chat', unique: true })
  }

  // ---- agents' slots ----

  async slotsOf (uid?: string): Promise<Array<{ uid: string, cid: string, at: number }>> {
    return await this.#slots.find(uid === undefined ? {} : { uid }, { projection: { _id: 0 } }).toArray()
  }

  async takeSlot (uid: string, cid: string, capacity: number, at: number): Promise<boolean> {
    return await this.#lock.run(`slots:${uid}`, async () => {
      if (await this.#holds(uid, cid)) return true
      for (let k = 0; k < capacity; k++) {
        const _id = `${uid}#${k}`
        try {
          await this.#slots.insertOne({ _id, uid, cid, at })
        } catch (err) {
          if (!isDuplicateKey(err)) throw err
          if (await this.#holds(uid, cid)) return true // the same chat, given this slot by another node
          continue
        }
        // Slots at or above a lowered capacity stay held until freed: never more than capacity.
        if (await this.#slots.countDocuments({ uid }) > capacity) {
          await this.#slots.deleteOne({ _id, cid })
          return false
        }
        return true
      }
      return false
    })
  }

  async releaseSlot (uid: string, cid: string): Promise<void> {
    await this.#lock.run(`slots:${uid}`, async () => { await this.#slots.deleteMany({ uid, cid }) })
  }

  // ---- chats' owners ----

  async claim (cid: string, agent: string, at: number): Promise<boolean> {
    for (let i = 0; i < RETRIES; i++) {
      try {
        await this.#claims.insertOne({ _id: cid, agent, at })
        return true
      } catch (err) {
        if (!isDuplicateKey(err)) throw err
      }
      const holder = await this.#claims.findOne({ _id: cid })
      if (holder) return holder.agent === agent
    }
    return false
  }

  async moveClaim (cid: string, from: string, to: string, at: number): Promise<boolean> {
    return (await this.#claims.updateOne({ _id: cid, agent: from }, { $set: { agent: to, at } })).matchedCount === 1
  }

  async unclaim (cid: string, agent?: string): Promise<void> {
    await this.#claims.deleteOne(agent === undefined ? { _id: cid } : { _id: cid, agent })
  }

  async claimOf (cid: string): Promise<{ agent: string, at: number } | undefined> {
    return await this.#claims.findOne<{ agent: string, at: number }>({ _id: cid }, { projection: { _id: 0 } }) ?? undefined
  }

  // ---- visitors' places ----

  async reserveVisitor (site: string, visitor: string, cid: string): Promise<string> {
    const _id = `${site}!${visitor}`
    for (let i = 0; i < RETRIES; i++) {
      try {
        await this.#places.insertOne({ _id, cid })
        return cid
      } catch (err) {
        if (!isDuplicateKey(err)) throw err
      }
      const holder = await this.#places.findOne({ _id })
      if (holder) return holder.cid
    }
    throw new Error(`The place of visitor ${visitor} on ${site} kept changing; try again.`)
  }

  async releaseVisitor (site: string, visitor: string, cid: string): Promise<void> {
    await this.#places.deleteOne({ _id: `${site}!${visitor}`, cid })
  }

  async placeOf (site: string, visitor: string): Promise<string | undefined> {
    return (await this.#places.findOne({ _id: `${site}!${visitor}` }))?.cid
  }

  async #holds (uid: string, cid: string): Promise<boolean> {
    return await this.#slots.countDocuments({ uid, cid }, { limit: 1 }) > 0
  }
}
