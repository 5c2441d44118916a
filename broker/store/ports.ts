/**
 * Store interfaces (ports). The broker talks to storage only through these; the embedded
 * LevelDB implementation lives in `store/level/`, and every implementation must pass the
 * contract suites in `test/contracts/`.
 */
import type { Role } from '../../shared/identity.js'
import type { AgentState, Conversation, Member, Message } from '../../shared/protocol.js'

/** What a principal may see beyond its own inbox. `'*'` grants every uid / channel. [IM-ACL-3] */
export interface Grants {
  /** uids whose retained presence `im/p/{uid}` this principal may subscribe to */
  presence: string[]
  /** broadcast channels `im/b/{channel}` this principal may subscribe to (`support/queue`, `news/#`) */
  channels: string[]
}

export interface PrincipalRecord {
  uid: string
  role: Role
  name?: string
  /** argon2id hash of the password (users, agents, admins) */
  passwordHash?: string
  /** argon2id hash of the device secret (devices) */
  secretHash?: string
  /** the site a visitor belongs to */
  site?: string
  /** host-site identity of a verified visitor: the `sub` of the site-signed token */
  externalId?: string
  email?: string
  grants: Grants
  /** a disabled principal cannot log in, and its tokens and connections stop working [IM-AUTH-6] */
  disabled?: boolean
  /** tokens carry the generation they were issued in; raising it revokes them all (absent = 0) [IM-AUTH-6] */
  tokenGeneration?: number
  /**
   * which life of the uid this is: set when the principal is created, never changed, never
   * repeated — tokens carry it, so a uid deleted and created again refuses the old tokens.
   * Absent on records stored before it existed (principals/incarnation.ts). [IM-AUTH-8]
   */
  incarnation?: string
  createdAt: number
  updatedAt: number
}

export interface PrincipalStore {
  get (uid: string): Promise<PrincipalRecord | undefined>
  /** Creates the principal; rejects with `IM_ERR_PRINCIPAL_EXISTS` when the uid is taken. Atomic. */
  create (record: PrincipalRecord): Promise<void>
  /**
   * Replaces the stored principal of the same uid and incarnation (both absent counts as the
   * same); resolves `false` and writes nothing when the uid is absent or of another incarnation —
   * a change read before a deletion never brings the deleted principal back. [IM-AUTH-8]
   */
  replace (record: PrincipalRecord): Promise<boolean>
  /** Removes the principal and remembers that it was deleted `at` (ms); resolves `false` when there was none. */
  delete (uid: string, at: number): Promise<boolean>
  /** When `uid` was last deleted, if ever (kept after it is created again). */
  deletedAt (uid: string): Promise<number | undefined>
  list (filter?: { role?: Role }): Promise<PrincipalRecord[]>
}

export interface SiteRecord {
  /** public key the widget presents (`data-site`) */
  siteKey: string
  name: string
  /** shared secret the site's backend signs identity tokens with (HS256) */
  secret: string
  createdAt: number
}

export interface SiteStore {
  get (siteKey: string): Promise<SiteRecord | undefined>
  create (record: SiteRecord): Promise<void>
  /** Replaces a site's record (a new secret). */
  put (record: SiteRecord): Promise<void>
  list (): Promise<SiteRecord[]>
}

// ---- IM: conversations and messages ----

/** One unaccepted invitation of a principal: to conversation `cid`, by `by`, at `at`. */
export interface Invitation { cid: string, by?: string, at: number }

/**
 * Conversations and their members. A member with `held` is no member to the stores either: it is
 * kept in the record (so the conversation looks the same to everyone else) but not indexed — not
 * in `cidsOf` or `invitationsOf` of its uid. [IM-CONV-2]
 */
export interface ConversationStore {
  /** Creates the conversation; resolves `false` (and changes nothing) when `cid` exists. */
  create (conversation: Conversation): Promise<boolean>
  get (cid: string): Promise<Conversation | undefined>
  /**
   * cids of the conversations `uid` is a member of, in cid order (a key range, not a scan); with
   * `page`, at most `limit` of them after the cid `after`.
   */
  cidsOf (uid: string, page?: { after?: string, limit?: number }): Promise<string[]>
  /**
   * The invitations `uid` has and has not accepted yet — members with `pending` (not `held`) —
   * with who invited it and when (`at`: its `joinedAt`; 0 and no `by` for one stored before these
   * were recorded). [IM-CONV-2]
   */
  invitationsOf (uid: string): Promise<Invitation[]>
  addMember (cid: string, member: Member): Promise<Conversation>
  removeMember (cid: string, uid: string): Promise<Conversation>
  /** Moves `uid`'s read position forward to `seq` (never back, never past `lastSeq`); returns the new position. */
  markRead (cid: string, uid: string, seq: number): Promise<number>
  /**
   * Changes a conversation atomically: `change` gets the stored conversation and returns the new
   * one (members may differ; the member index follows). Rejects `IM_ERR_NOT_FOUND` for an unknown cid.
   */
  update (cid: string, change: (conv: Conversation) => Conversation): Promise<Conversation>
}

export type NewMessage = Omit<Message, 'seq'>

export interface AppendResult {
  message: Message
  /** false when the sender's `cmid` was already stored: `message` is the original [IM-IDEM-1] */
  created: boolean
}

export interface MessageStore {
  /**
   * Assigns the conversation's next `seq` and stores the message durably, atomically with the
   * conversation's `lastSeq` and the sender's cmid index. A cmid the sender used before returns
   * the stored message instead. Concurrent appends never share or skip a seq.
   */
  append (message: NewMessage): Promise<AppendResult>
  get (cid: string, id: string): Promise<Message | undefined>
  /** Messages with `seq > after`, oldest first. */
  after (cid: string, after: number, limit: number): Promise<Message[]>
  /** Messages with `seq < before`, returned oldest first. */
  before (cid: string, before: number, limit: number): Promise<Message[]>
  last (cid: string): Promise<Message | undefined>
  /** Replaces a stored message (recall, edit). */
  update (message: Message): Promise<void>
}

// ---- customer service ----

export interface CannedReply { id: string, owner: string | null, title: string, text: string, createdAt: number }

/** An agent's settings and routing state as stored; `active` comes from its slots. */
export type AgentRecord = Omit<AgentState, 'active'>
/** Fields of an agent's record to change; `null` removes an optional one. */
export type AgentPatch = Partial<Omit<AgentRecord, 'uid' | 'disconnectedAt' | 'autoAway'>> & { disconnectedAt?: number | null, autoAway?: boolean | null }

/**
 * A waiting chat's place in the queue: chats whose visitor wrote come first, then those whose
 * visitor wrote nothing, each group by `queuedAt`, ties by cid. [IM-SUPPORT-RANK]
 */
export interface QueueEntry { cid: string, visitor: string, queuedAt: number, wrote: boolean }
/** How many chats wait, and how many of them have no word from their visitor yet. */
export interface QueueCounts { total: number, silent: number }

/**
 * Customer-service state. Who owns a chat and how many chats an agent holds are decided here, by
 * operations that are atomic across brokers sharing the store (several nodes, or two racing
 * commands of one): of concurrent `claim`s of a chat exactly one wins, and an agent's `takeSlot`s
 * never hold more than its capacity. [IM-SUPPORT-1]
 */
export interface SupportStore {
  /** The agent with `active` = the chats holding its slots, in the order they were taken. */
  getAgent (uid: string): Promise<AgentState | undefined>
  /** Writes an agent's record (everything but `active`, which only slots change). */
  putAgent (agent: AgentRecord): Promise<void>
  /** Changes some fields of an agent's record, creating it from `create` when there is none. */
  patchAgent (uid: string, patch: AgentPatch, create?: AgentRecord): Promise<void>
  listAgents (): Promise<AgentState[]>
  /** Gives `cid` one of the agent's `capacity` slots; false when they are all taken. Idempotent per cid. */
  takeSlot (uid: string, cid: string, capacity: number, at: number): Promise<boolean>
  releaseSlot (uid: string, cid: string): Promise<void>
  /** Makes `agent` the owner of chat `cid`; false when another owner holds it. */
  claim (cid: string, agent: string, at: number): Promise<boolean>
  /** Hands the chat from `from` to `to`; false when `from` does not hold it. */
  moveClaim (cid: string, from: string, to: string, at: number): Promise<boolean>
  /** Gives the chat up; with `agent`, only when that agent holds it. */
  unclaim (cid: string, agent?: string): Promise<void>
  claimOf (cid: string): Promise<{ agent: string, at: number } | undefined>
  /**
   * Makes `cid` the visitor's one open chat on `site` unless another is: returns the cid that
   * holds the place (`cid` itself when it won).
   */
  reserveVisitor (site: string, visitor: string, cid: string): Promise<string>
  /** Frees the visitor's place when `cid` holds it (a reservation whose chat never came to be). */
  releaseVisitor (site: string, visitor: string, cid: string): Promise<void>
  /**
   * Records which support conversations are open (waiting or active) and, for a waiting one, its
   * place in the queue; a closed one leaves the index and frees its visitor's place.
   */
  indexOpen (conv: Conversation): Promise<void>
  /** Waiting chats in queue order after `after` (the last entry of the page before), at most `limit`. [IM-SUPPORT-PAGE] */
  queue (limit: number, after?: QueueEntry): Promise<QueueEntry[]>
  queueCounts (): Promise<QueueCounts>
  /** cids (at most `limit`) of open chats indexed by a version that kept no state or rank for them */
  unranked (limit: number): Promise<string[]>
  /** Indexes a chat `unranked` listed, from its conversation; one indexed meanwhile is left as it is. */
  rank (conv: Conversation): Promise<void>
  /** cids of the open support conversations, oldest `queuedAt` first */
  openCids (): Promise<string[]>
  /** the open support conversation of a visitor on a site, if any */
  openFor (site: string, visitor: string): Promise<string | undefined>
  /** when each visitor last showed traffic (idle release survives restarts) */
  setSeen (uid: string, ts: number): Promise<void>
  seen (uid: string): Promise<number | undefined>
  /** the brokers' heartbeat: the countdowns pause while no broker runs */
  setAliveAt (ts: number): Promise<void>
  aliveAt (): Promise<number | undefined>
  putCanned (reply: CannedReply): Promise<void>
  deleteCanned (id: string): Promise<void>
  listCanned (): Promise<CannedReply[]>
}

// ---- broker nodes ----

/** A broker node's lease: it is alive until `expiresAt` unless it renews it. */
export interface NodeRecord { node: string, startedAt: number, expiresAt: number }

/**
 * The broker nodes sharing a store and which principals have connections on each — so presence
 * is "online while any connection on any node is up", and the connections of a node that died
 * go offline once its lease runs out. [IM-PRESENCE-1]
 */
export interface NodeStore {
  /** Writes or renews a node's lease. */
  renew (node: NodeRecord): Promise<void>
  list (): Promise<NodeRecord[]>
  /** Forgets a node: its lease and its presence entries. */
  remove (node: string): Promise<void>
  /** Records that `uid` has (or no longer has) connections on `node`. */
  setPresent (uid: string, node: string, present: boolean): Promise<void>
  /** the nodes on which `uid` has connections */
  nodesOf (uid: string): Promise<string[]>
  /** the uids with connections on `node` */
  presentOn (node: string): Promise<string[]>
}

// ---- MQTT sessions ----

/**
 * A persistent MQTT session (clean=false) the broker keeps for a client id: who owns it and when
 * it was last connected, so sessions nobody resumes can expire. [IM-SESSION-1]
 */
export interface SessionRecord {
  clientId: string
  /** absent for anonymous clients of the generic namespace */
  uid?: string
  /** absent when unknown (anonymous, or a session older than this record) */
  role?: Role
  /** connected to a broker now */
  online: boolean
  /** when it last connected or disconnected (ms) */
  lastSeen: number
  /** the broker node it is connected to (while `online`) */
  node?: string
}

export interface SessionStore {
  get (clientId: string): Promise<SessionRecord | undefined>
  put (record: SessionRecord): Promise<void>
  delete (clientId: string): Promise<void>
  /** every session record, in clientId order */
  list (): AsyncIterable<SessionRecord>
}

// ---- attempts counted before they are made ----

/** A key's attempts that still count: how many, and when the latest was taken (ms). */
export interface AttemptTally { count: number, lastAt?: number }

export type AttemptTake = { taken: true, slot: number } | { taken: false, tally: AttemptTally }

/**
 * Attempts counted before they are made (password checks), so that concurrent attempts cannot
 * all pass a check that reads the count first and adds to it after. Each attempt takes a slot of
 * its key; of racing takes that each see room for one more, exactly one gets it — also across
 * broker nodes sharing the store. [IM-LIMIT-1]
 */
export interface AttemptStore {
  /**
   * Counts one attempt of `key`, taken `at` (ms) and counting until `expiresAt` (ms), if
   * `allow(tally)` says there is room — decided and counted as one step. Resolves the slot taken,
   * or the tally that had no room (nothing counted).
   */
  take (key: string, at: number, expiresAt: number, allow: (tally: AttemptTally) => boolean): Promise<AttemptTake>
  /** Forgets one attempt (it was not made, or it must not count). */
  giveBack (key: string, slot: number): Promise<void>
  /** Forgets every attempt of `key`. */
  clear (key: string): Promise<void>
}
