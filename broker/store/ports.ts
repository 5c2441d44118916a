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
  createdAt: number
  updatedAt: number
}

export interface PrincipalStore {
  get (uid: string): Promise<PrincipalRecord | undefined>
  /** Creates the principal; rejects with `IM_ERR_PRINCIPAL_EXISTS` when the uid is taken. Atomic. */
  create (record: PrincipalRecord): Promise<void>
  /** Creates or replaces the principal. */
  put (record: PrincipalRecord): Promise<void>
  /** Removes the principal; resolves `false` when there was none. */
  delete (uid: string): Promise<boolean>
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

export interface ConversationStore {
  /** Creates the conversation; resolves `false` (and changes nothing) when `cid` exists. */
  create (conversation: Conversation): Promise<boolean>
  get (cid: string): Promise<Conversation | undefined>
  /**
   * cids of the conversations `uid` is a member of, in cid order (a key range, not a scan); with
   * `page`, at most `limit` of them after the cid `after`.
   */
  cidsOf (uid: string, page?: { after?: string, limit?: number }): Promise<string[]>
  /** how many groups `uid` was added to and has not accepted yet (members with `pending`) [IM-CONV-2] */
  pendingCount (uid: string): Promise<number>
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

export interface SupportStore {
  getAgent (uid: string): Promise<AgentState | undefined>
  putAgent (agent: AgentState): Promise<void>
  listAgents (): Promise<AgentState[]>
  /** Records which support conversations are open (waiting or active); a closed one leaves the index. */
  indexOpen (conv: Conversation): Promise<void>
  /** cids of the open support conversations, oldest `queuedAt` first */
  openCids (): Promise<string[]>
  /** the open support conversation of a visitor on a site, if any */
  openFor (site: string, visitor: string): Promise<string | undefined>
  /** when each visitor last showed traffic (idle release survives restarts) */
  setSeen (uid: string, ts: number): Promise<void>
  seen (uid: string): Promise<number | undefined>
  /** the broker's heartbeat: the countdowns pause while the broker is down */
  setAliveAt (ts: number): Promise<void>
  aliveAt (): Promise<number | undefined>
  putCanned (reply: CannedReply): Promise<void>
  deleteCanned (id: string): Promise<void>
  listCanned (): Promise<CannedReply[]>
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
}

export interface SessionStore {
  get (clientId: string): Promise<SessionRecord | undefined>
  put (record: SessionRecord): Promise<void>
  delete (clientId: string): Promise<void>
  /** every session record, in clientId order */
  list (): AsyncIterable<SessionRecord>
}
