/**
 * Reads one pre-filled visitor back through the broker's own store classes — principal, session
 * record, last-seen time, conversation state, history, member index, MQTT subscription, retained
 * presence and queued event — so that a pre-fill whose formats drifted from the broker's fails
 * here, loudly, instead of measuring a store the broker cannot read.
 */
import type { ServerEvent } from '../shared/protocol.js'
import { topics } from '../shared/topics.js'
import { BoundedLevelPersistence } from '../broker/persistence/bounded-queue.js'
import { ResumeGate } from '../broker/persistence/resume-gate.js'
import { openImStores } from '../broker/store/level/im-stores.js'
import type { RootDb } from '../broker/store/level/open.js'
import { LevelPrincipalStore } from '../broker/store/level/principal-store.js'
import { LevelSessionStore } from '../broker/store/level/session-store.js'
import { LevelSupportStore } from '../broker/store/level/support-store.js'
import type { VisitorChat } from './store-prefill-records.js'

export async function checkPrefill (root: RootDb, chat: VisitorChat): Promise<void> {
  const problems: string[] = []
  const expect = (ok: boolean, what: string): void => { if (!ok) problems.push(what) }
  const { uid, clientId, conv } = chat

  const principal = await new LevelPrincipalStore(root).get(uid)
  expect(principal?.role === 'visitor' && principal.site === chat.site, 'the visitor principal')
  const session = await new LevelSessionStore(root).get(clientId)
  expect(session?.uid === uid && !session.online, 'the session record (offline)')
  const support = new LevelSupportStore(root)
  expect(await support.seen(uid) !== undefined, 'the visitor\'s last-seen time')
  const closed = conv.support?.state === 'closed'
  expect((await support.openFor(chat.site, uid) === undefined) === closed, 'the open-chat index')

  const { conversations, messages } = openImStores(root)
  const stored = await conversations.get(conv.cid)
  expect(stored?.support?.state === conv.support?.state && stored?.lastSeq === conv.lastSeq, 'the conversation state (lastSeq, support state)')
  const history = await messages.after(conv.cid, 0, conv.lastSeq + 1)
  expect(history.length === conv.lastSeq && history.every((m, i) => m.seq === i + 1), `the history (${history.length} of ${conv.lastSeq} messages in seq order)`)
  const last = history.at(-1)
  expect(last === undefined || (await messages.get(conv.cid, last.id))?.seq === last.seq, 'a message found by its id')
  expect((await conversations.cidsOf(uid)).includes(conv.cid), 'the member index')

  const persistence = new BoundedLevelPersistence(root, { resume: new ResumeGate(), maxMessages: 1000, maxAgeMs: 7 * 86_400_000, now: Date.now, onDrop: () => undefined })
  const subscriptions = await persistence.subscriptionsByClient({ id: clientId }) as Array<{ topic: string, qos: number }>
  expect(subscriptions.length === 1 && subscriptions[0]?.topic === topics.inbox(uid) && subscriptions[0].qos === 1, 'the session\'s subscription to its inbox')
  const retained = await collect<{ payload: Buffer }>(persistence.createRetainedStream(topics.presence(uid)))
  expect(retained.length === 1 && (JSON.parse(retained[0]!.payload.toString()) as { online: boolean }).online === false, 'the retained presence (offline)')
  const queued = await collect<{ payload: Buffer }>(persistence.outgoingStream({ id: clientId, clean: true }))
  const events = queued.map((p) => JSON.parse(p.payload.toString()) as ServerEvent)
  expect(events.length === (closed ? 1 : 0) && events.every((e) => e.ev === 'conv' && e.type === 'closed'), 'the queued `conv closed` event')

  if (problems.length > 0) throw new Error(`the pre-filled store does not read back as the broker writes it: ${problems.join('; ')} (visitor ${uid})`)
}

async function collect<T> (stream: AsyncIterable<unknown>): Promise<T[]> {
  const items: T[] = []
  for await (const item of stream) items.push(item as T)
  return items
}
