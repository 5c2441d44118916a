/**
 * The writes the broker makes for one visitor's or one pair of users' life, as LevelDB batch
 * operations in exactly the keys and encodings the broker's stores write — so that a store filled
 * here is, key for key, what a long-running broker leaves. The sublevels and key helpers come from
 * the broker where it exports them (`sublevels` and `pad` in im-stores.ts; `outgoingKey`,
 * `indexKey`, `encodeQueued` in persistence/queue-keys.ts); the rest repeat, each with the file it
 * mirrors, what the stores' private code writes. store-prefill-check.ts reads a sample back through
 * the broker's own classes.
 *
 * A life is replayed write by write, overwrites and deletions included — a session record
 * rewritten at disconnect, a conversation's counter at every message, the open-chat index entry
 * deleted at close — because LevelDB keeps old versions and deletion markers until compaction, and
 * a range read pays for the ones it crosses.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import msgpack from 'msgpack-lite'
import type { AgentState, Conversation, Member, Message, SupportInfo } from '../shared/protocol.js'
import { topics } from '../shared/topics.js'
import { encodeQueued, indexKey, outgoingKey } from '../broker/persistence/queue-keys.js'
import { pad, sublevels } from '../broker/store/level/im-stores.js'
import type { RootDb } from '../broker/store/level/open.js'
import type { BatchOp } from '../broker/store/level/write-batch.js'
import type { PrincipalRecord, SessionRecord, SiteRecord } from '../broker/store/ports.js'

export function storeParts (root: RootDb) {
  const utf8 = { valueEncoding: 'utf8' } as const
  return {
    im: sublevels(root),
    // principal-store.ts
    principals: root.sublevel<string, PrincipalRecord>('principals', { valueEncoding: 'json' }),
    sites: root.sublevel<string, SiteRecord>('sites', { valueEncoding: 'json' }),
    // session-store.ts
    sessions: root.sublevel<string, SessionRecord>('sessions', { valueEncoding: 'json' }),
    // support-store.ts
    agents: root.sublevel<string, AgentState>('agents', { valueEncoding: 'json' }),
    supportOpen: root.sublevel<string, string>('support-open', utf8),
    supportVisitor: root.sublevel<string, string>('support-visitor', utf8),
    supportSeen: root.sublevel<string, string>('support-seen', utf8),
    supportMeta: root.sublevel<string, string>('support-meta', utf8),
    // persistence/bounded-queue.ts: aedes-persistence-level's own sublevel, and our queue index
    mqtt: root.sublevel<string, string>('mqtt', {}),
    mqttQueue: root.sublevel<string, string>('mqtt-queue', {})
  }
}
export type StoreParts = ReturnType<typeof storeParts>

/** The operations of one batch, appended in the order the broker would make them. */
export class Ops {
  readonly list: BatchOp[] = []
  put (sublevel: unknown, key: string, value: unknown, valueEncoding?: BatchOp['valueEncoding']): void {
    this.list.push({ type: 'put', sublevel, key, value, ...(valueEncoding ? { valueEncoding } : {}) })
  }

  del (sublevel: unknown, key: string): void {
    this.list.push({ type: 'del', sublevel, key })
  }
}

/** The aedes of a previous broker run: its id and packet counter (aedes.js, server.ts). */
export class PastBroker {
  readonly id: string
  #counter = 0
  constructor (startedAt: number) {
    this.id = `b${String(startedAt).padStart(15, '0')}000000`
  }

  /** A publish as aedes' `new Packet(packet, broker)` makes it. */
  packet (topic: string, payload: unknown, retain: boolean): { cmd: 'publish', brokerId: string, brokerCounter: number, topic: string, payload: Buffer, qos: 1, retain: boolean, dup: false } {
    return { cmd: 'publish', brokerId: this.id, brokerCounter: ++this.#counter, topic, payload: Buffer.from(JSON.stringify(payload)), qos: 1, retain, dup: false }
  }
}

export interface Agent { uid: string, name: string, state: AgentState }

export function agentPrincipal (ops: Ops, s: StoreParts, agent: Agent, passwordHash: string, at: number): void {
  ops.put(s.principals, agent.uid, { uid: agent.uid, role: 'agent', name: agent.name, passwordHash, grants: { presence: ['*'], channels: ['support/queue'] }, createdAt: at, updatedAt: at })
  ops.put(s.agents, agent.uid, agent.state)
}

export function userPrincipal (ops: Ops, s: StoreParts, uid: string, passwordHash: string, at: number): void {
  ops.put(s.principals, uid, { uid, role: 'user', passwordHash, grants: { presence: [], channels: [] }, createdAt: at, updatedAt: at })
}

/** A principal's retained presence, online then offline (im/events.ts `presence`, aedes storeRetained). */
export function presence (ops: Ops, s: StoreParts, broker: PastBroker, uid: string, online: boolean, at: number): void {
  ops.put(s.mqtt, `retained:${topics.presence(uid)}`, encodeQueued(broker.packet(topics.presence(uid), { online, ts: at }, true)), 'buffer')
}

/**
 * LevelConversationStore.create: the record and its member index. Records are put as copies:
 * `conv` goes on changing (members and support replaced, never mutated) before the batch is written.
 */
function createConversation (ops: Ops, s: StoreParts, conv: Conversation): void {
  ops.put(s.im.conversations, conv.cid, { ...conv })
  for (const m of conv.members) ops.put(s.im.memberOf, `${m.uid}!${conv.cid}`, '')
}

/** LevelMessageStore.append: the message, its two indexes, the counter and the sender's read position. */
function appendMessage (ops: Ops, s: StoreParts, conv: Conversation, from: string, ts: number): void {
  const seq = conv.lastSeq + 1
  const cmid = `c-${randomBytes(6).toString('base64url')}`
  const message: Message = { id: randomUUID(), cid: conv.cid, from, ts, type: 'text', body: { text: `message ${seq} of ${conv.cid}, written by the bench's pre-fill to give the store realistic history` }, cmid, seq }
  ops.put(s.im.messages, `${conv.cid}!${pad(seq)}`, message)
  ops.put(s.im.messageIds, `${conv.cid}!${message.id}`, String(seq))
  ops.put(s.im.cmids, `${from}!${conv.cid}!${cmid}`, String(seq))
  ops.put(s.im.convSeq, conv.cid, String(seq))
  ops.put(s.im.read, `${conv.cid}!${from}`, String(seq))
  conv.lastSeq = seq
  conv.members = conv.members.map((m) => m.uid === from ? { ...m, readSeq: seq } : m)
}

/** Two users' direct conversation (ConversationService.create as `a`) and its `messages`, written in turn. */
export function directConversation (ops: Ops, s: StoreParts, a: string, b: string, messages: number, at: number): void {
  const conv: Conversation = { cid: directCid(a, b), kind: 'direct', members: [member(a, at), member(b, at)], createdAt: at, createdBy: a, lastSeq: 0 }
  createConversation(ops, s, conv)
  for (let i = 0; i < messages; i++) appendMessage(ops, s, conv, i % 2 === 0 ? a : b, at + 1 + i)
}

/** The cid ConversationService gives the direct conversation of two uids (im/conversations.ts `directCid`). */
function directCid (a: string, b: string): string {
  const [x, y] = [a, b].sort()
  return `d_${createHash('sha256').update(`${x}\0${y}`).digest('base64url').slice(0, 22)}`
}

function member (uid: string, joinedAt: number): Member {
  return { uid, role: 'member', joinedAt, readSeq: 0 }
}

/** A visitor's support chat while it lives, and what is needed to close it later. */
export interface VisitorChat { uid: string, clientId: string, site: string, conv: Conversation, agent: Agent | undefined }

const pad15 = (n: number): string => String(n).padStart(15, '0')

/**
 * A visitor arrives (services.ts `visitor`), connects with a persistent session and subscribes to
 * its inbox (session-expiry.ts, aedes' addSubscriptions, presence), opens a chat (desk.ts `open`,
 * support-store.ts `indexOpen`), is assigned `agent` (desk.ts `#assign`) unless it is left
 * waiting, writes with it `messages` messages, alternately, and leaves (its session, presence
 * and last-seen time rewritten). The chat stays open until `closeVisitorChat`.
 */
export function visitorArrives (ops: Ops, s: StoreParts, broker: PastBroker, site: string, agent: Agent | undefined, messages: number, at: number): VisitorChat {
  const uid = `v_${randomBytes(15).toString('base64url')}`
  const clientId = `${uid}-t1`
  ops.put(s.principals, uid, { uid, role: 'visitor', site, grants: { presence: [], channels: [] }, createdAt: at, updatedAt: at })
  ops.put(s.sessions, clientId, { clientId, uid, role: 'visitor', online: true, lastSeen: at })
  ops.put(s.supportSeen, uid, String(at))
  presence(ops, s, broker, uid, true, at)
  const subscription = { topic: topics.inbox(uid), qos: 1, clientId }
  ops.put(s.mqtt, `subscriptions:${encodeURIComponent(clientId)}:${subscription.topic}`, msgpack.encode(subscription), 'buffer')

  const support: SupportInfo = { site, visitor: uid, state: 'waiting', context: { url: 'https://shop.example/cart', locale: 'en' }, queuedAt: at + 1 }
  const conv: Conversation = { cid: `s_${randomBytes(12).toString('base64url')}`, kind: 'support', members: [member(uid, at + 1)], createdAt: at + 1, createdBy: uid, lastSeq: 0, support }
  createConversation(ops, s, conv)
  ops.put(s.supportOpen, `${pad15(support.queuedAt)}!${conv.cid}`, '')
  ops.put(s.supportVisitor, `${site}!${uid}`, conv.cid)
  ops.put(s.supportSeen, uid, String(at + 1))
  const chat: VisitorChat = { uid, clientId, site, conv, agent }
  if (agent) assign(ops, s, chat, agent, at + 2)
  for (let i = 0; i < messages; i++) {
    appendMessage(ops, s, conv, agent && i % 2 === 1 ? agent.uid : uid, at + 3 + i)
  }
  const left = at + 3 + messages
  ops.put(s.sessions, clientId, { clientId, uid, role: 'visitor', online: false, lastSeen: left })
  ops.put(s.supportSeen, uid, String(left))
  presence(ops, s, broker, uid, false, left)
  return chat
}

function assign (ops: Ops, s: StoreParts, chat: VisitorChat, agent: Agent, at: number): void {
  agent.state = { ...agent.state, active: [...agent.state.active, chat.conv.cid], idleSince: at }
  ops.put(s.agents, agent.uid, agent.state)
  const conv = chat.conv
  conv.members = [...conv.members, member(agent.uid, at)]
  conv.support = { ...conv.support!, state: 'active', agent: agent.uid, agentName: agent.name, assignedAt: at }
  ops.put(s.im.conversations, conv.cid, { ...conv })
  ops.put(s.im.memberOf, `${agent.uid}!${conv.cid}`, '')
  ops.put(s.supportOpen, `${pad15(conv.support.queuedAt)}!${conv.cid}`, '')
  ops.put(s.supportVisitor, `${chat.site}!${chat.uid}`, conv.cid)
}

/**
 * Idle release closes the chat of a visitor who left (desk.ts `close`): the agent's slot freed,
 * the record closed, the open-chat index entries deleted, and the `conv closed` event queued in
 * the visitor's offline session (bounded-queue.ts `#store`).
 */
export function closeVisitorChat (ops: Ops, s: StoreParts, broker: PastBroker, chat: VisitorChat, at: number): void {
  const { conv, agent } = chat
  if (agent) {
    agent.state = { ...agent.state, active: agent.state.active.filter((c) => c !== conv.cid), idleSince: at }
    ops.put(s.agents, agent.uid, agent.state)
  }
  conv.support = { ...conv.support!, state: 'closed', closedAt: at, closedReason: 'idle' }
  ops.put(s.im.conversations, conv.cid, { ...conv })
  ops.del(s.supportOpen, `${pad15(conv.support.queuedAt)}!${conv.cid}`)
  ops.del(s.supportVisitor, `${chat.site}!${chat.uid}`)
  const event = broker.packet(topics.inbox(chat.uid), { ev: 'conv', type: 'closed', conv }, false)
  ops.put(s.mqttQueue, indexKey(chat.clientId, event), String(at))
  ops.put(s.mqtt, outgoingKey(chat.clientId, event), encodeQueued(event), 'buffer')
}
