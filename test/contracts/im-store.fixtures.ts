/** What the IM store contracts share: fresh stores, and conversations and messages to put in them. */
import { randomUUID } from 'node:crypto'
import type { ConversationStore, MessageStore, NewMessage } from '../../broker/store/ports.js'
import type { Conversation, Message } from '../../shared/protocol.js'

export interface ImStoreFixture { conversations: ConversationStore, messages: MessageStore, close (): Promise<void> }

export const conversation = (cid: string, uids: string[], extra: Partial<Conversation> = {}): Conversation => ({
  cid,
  kind: 'group',
  members: uids.map((uid, i) => ({ uid, role: i === 0 ? 'owner' : 'member', joinedAt: 1, readSeq: 0 })),
  createdAt: 1,
  createdBy: uids[0] ?? 'nobody',
  lastSeq: 0,
  ...extra
})

/** A message as the broker hands it to `append`: a fresh server id on every attempt, even a retry. */
export const draft = (cid: string, from: string, cmid: string, text = cmid): NewMessage =>
  ({ id: randomUUID(), cid, from, ts: 1000, type: 'text', body: { text }, cmid })

export const seqs = (messages: Message[]): number[] => messages.map((m) => m.seq)
export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)
export const readSeqOf = (conv: Conversation | undefined, uid: string): number | undefined => conv?.members.find((m) => m.uid === uid)?.readSeq

export async function appendMany (s: ImStoreFixture, cid: string, from: string, count: number): Promise<Message[]> {
  const out: Message[] = []
  for (let i = 0; i < count; i++) out.push((await s.messages.append(draft(cid, from, `${cid}-m${i + 1}`))).message)
  return out
}


/** Runs `test` against fresh stores from `build` and always closes them. */
export function storesFrom (build: () => Promise<ImStoreFixture>) {
  return (test: (s: ImStoreFixture) => Promise<void>) => async () => {
    const s = await build()
    try { await test(s) } finally { await s.close() }
  }
}
