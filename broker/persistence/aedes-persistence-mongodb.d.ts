// Types for the parts of aedes-persistence-mongodb 9.5 (CommonJS, untyped) that the bounded queue
// extends. Only `db` is declared among its options: the broker hands it its own Db (one driver),
// and its `ttl` options stay off — FerretDB has no TTL indexes, and the queue's age limit is ours.
declare module 'aedes-persistence-mongodb/asyncPersistence.js' {
  import type { Db } from 'mongodb'
  export interface MongoPersistenceOptions { db: Db }
  export default class AsyncMongoPersistence {
    constructor (options: MongoPersistenceOptions)
    /** the broker `setup` was given */
    readonly broker: { id: string } | undefined
    setup (broker: unknown): Promise<void>
    outgoingEnqueue (sub: { clientId: string }, packet: object): Promise<unknown>
    outgoingEnqueueCombi (subs: Array<{ clientId: string }>, packet: object): Promise<unknown>
    outgoingClearMessageId (client: { id: string }, packet: { messageId: number }): Promise<unknown>
    outgoingUpdate (client: { id: string }, packet: object): Promise<void>
    outgoingStream (client: { id: string }): AsyncIterable<unknown>
    createRetainedStream (pattern: string): AsyncIterable<unknown>
    createRetainedStreamCombi (patterns: string[]): AsyncIterable<unknown>
    storeRetained (packet: { topic: string, payload: Buffer, retain: boolean, qos: number, cmd: 'publish' }): Promise<void>
    addSubscriptions (client: { id: string }, subs: Array<{ topic: string, qos: number }>): Promise<void>
    removeSubscriptions (client: { id: string }, topics: string[]): Promise<void>
    subscriptionsByTopic (topic: string): Promise<Array<{ clientId: string, topic: string, qos: number }>>
    subscriptionsByClient (client: { id: string }): Promise<Array<{ topic: string, qos: number }>>
    cleanSubscriptions (client: { id: string }): Promise<void>
    cleanIncoming (client: { id: string }): Promise<void>
    putWill (client: { id: string }, packet: object): Promise<void>
    getWill (client: { id: string }): Promise<unknown>
    delWill (client: { id: string }): Promise<unknown>
    destroy (): Promise<void>
  }
}
