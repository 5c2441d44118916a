// Types for the parts of aedes-persistence-level (CommonJS, untyped) that the bounded queue extends.
declare module 'aedes-persistence-level/asyncPersistence.js' {
  import type { Readable } from 'node:stream'
  export default class AsyncLevelPersistence {
    constructor (db: unknown)
    setup (broker: unknown): Promise<void>
    outgoingEnqueue (sub: { clientId: string }, packet: object): Promise<void>
    outgoingEnqueueCombi (subs: Array<{ clientId: string }>, packet: object): Promise<void>
    outgoingClearMessageId (client: { id: string }, packet: { messageId: number }): Promise<unknown>
    outgoingUpdate (client: { id: string }, packet: object): Promise<void>
    outgoingStream (client: { id: string }): Readable
    createRetainedStream (pattern: string): Readable
    createRetainedStreamCombi (patterns: string[]): Readable
    subscriptionsByTopic (topic: string): Promise<Array<{ clientId: string, topic: string, qos: number }>>
    subscriptionsByClient (client: { id: string }): Promise<Array<{ topic: string, qos: number }>>
    cleanSubscriptions (client: { id: string }): Promise<void>
    cleanIncoming (client: { id: string }): Promise<void>
    putWill (client: { id: string }, packet: object): Promise<void>
    getWill (client: { id: string }): Promise<unknown>
    delWill (client: { id: string }): Promise<unknown>
    storeRetained (packet: { topic: string, payload: Buffer, retain: boolean, qos: number, cmd: 'publish' }): Promise<void>
    destroy (): Promise<void>
  }
}
