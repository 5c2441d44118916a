/**
 * Fills a data directory for `--suite store-size` with what a broker that has served many visitors
 * leaves behind — in-process, straight into LevelDB, in large batches: the broker's write path
 * (HTTP, MQTT, argon2 for the users) would take hours for 100,000 visitors and a million
 * messages, and measure nothing this suite is about. The records, keys and encodings are the
 * broker's own (store-prefill-records.ts), replayed in the order a broker writes them.
 *
 * What goes in (N = --prefill):
 * - one site and 20 agents (offline, nothing active at the end);
 * - N visitors, spread over the last 20 hours (their persistent sessions do not expire before
 *   SESSION_EXPIRY_VISITOR_SECONDS, one day by default): each a principal, a persistent session
 *   `{uid}-t1` (offline) subscribed to its inbox, a retained presence (offline), a support chat
 *   assigned to an agent with `--prefill-messages` ÷ N messages, closed three minutes after the
 *   visitor left (idle release), and the `conv closed` event queued in its offline session.
 *   The last `--prefill-waiting` of them are still waiting for an agent: never assigned, not closed;
 * - `--prefill-users` users, each in 5 direct conversations (with the next five users) of 20
 *   messages, with a retained presence.
 *
 * Chats are closed two chunks (1,000 visitors) after they opened, so the deletions of the
 * open-chat index fall among the later writes, as they do on a live broker. Once written, the
 * store is left until LevelDB's background compaction is quiet, then closed; its size on disk is
 * read after that.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { hashSecret } from '../broker/auth/passwords.js'
import { openLevel, type RootDb } from '../broker/store/level/open.js'
import type { BatchOp } from '../broker/store/level/write-batch.js'
import type { SiteRecord } from '../broker/store/ports.js'
import { sleep } from './clients.js'
import { checkPrefill } from './store-prefill-check.js'
import { Ops, PastBroker, agentPrincipal, closeVisitorChat, directConversation, presence, storeParts, userPrincipal, visitorArrives, type Agent, type VisitorChat } from './store-prefill-records.js'

export interface PrefillPlan { visitors: number, supportMessages: number, users: number, waiting: number }

export interface PrefillResult {
  siteKey: string
  writeSeconds: number
  /** waiting for LevelDB's background compaction to finish, after the last write */
  settleSeconds: number
  bytesOnDisk: number
  /** batch operations written (puts and deletions) */
  operations: number
  messages: number
  directConversations: number
}

const CHUNK_VISITORS = 500
const CLOSE_AFTER_CHUNKS = 2
const AGENTS = 20
export const DIRECT_PEERS = 5
export const DIRECT_MESSAGES = 20
const HISTORY_MS = 20 * 3600_000
/** IDLE_RELEASE_MS's default: a chat closes this long after its visitor left */
const IDLE_RELEASE_MS = 180_000
const SETTLE_POLL_MS = 500
const SETTLE_QUIET_POLLS = 4
const SETTLE_MAX_MS = 600_000

export async function prefillStore (dataDir: string, plan: PrefillPlan, progress: (line: string) => void): Promise<PrefillResult> {
  const started = performance.now()
  const root = await openLevel(dataDir)
  let result: Omit<PrefillResult, 'bytesOnDisk'>
  try {
    const { sample, ...written } = await writeHistory(root, plan, progress)
    const writeSeconds = (performance.now() - started) / 1000
    const settleStarted = performance.now()
    await settle(root)
    result = { ...written, writeSeconds, settleSeconds: (performance.now() - settleStarted) / 1000 }
    await checkPrefill(root, sample)
  } finally {
    await root.close()
  }
  return { ...result, bytesOnDisk: bytesOnDisk(dataDir) }
}

/** Bytes of every file under `dir`. */
export function bytesOnDisk (dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    total += entry.isDirectory() ? bytesOnDisk(path) : statSync(path).size
  }
  return total
}

/** One message count per visitor, `total` shared out evenly. */
function share (total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0)
}

async function writeHistory (root: RootDb, plan: PrefillPlan, progress: (line: string) => void) {
  const s = storeParts(root)
  const first = Date.now() - HISTORY_MS
  const broker = new PastBroker(first)
  const passwordHash = await hashSecret(randomBytes(16).toString('hex'))
  const site: SiteRecord = { siteKey: `site_${randomBytes(9).toString('base64url')}`, name: 'default', secret: randomBytes(32).toString('base64url'), createdAt: first }
  const agents: Agent[] = Array.from({ length: AGENTS }, (_, i) => ({ uid: `agent-${i}`, name: `Agent ${i}`, state: { uid: `agent-${i}`, status: 'offline', capacity: 3, active: [], idleSince: first } }))

  let ops = new Ops()
  let operations = 0
  let writing: Promise<void> = Promise.resolve()
  // one batch written while the next is built
  const flush = async (): Promise<void> => {
    const list = ops.list
    ops = new Ops()
    operations += list.length
    await writing
    writing = (root.batch as (ops: BatchOp[]) => Promise<void>).call(root, list)
  }
  ops.put(s.sites, site.siteKey, site)
  for (const agent of agents) agentPrincipal(ops, s, agent, passwordHash, first)

  const chunks = Math.ceil(plan.visitors / CHUNK_VISITORS)
  const step = HISTORY_MS / plan.visitors
  const open: VisitorChat[][] = []
  let sample: VisitorChat | undefined
  let messages = 0
  let directConversations = 0
  for (let c = 0; c < chunks; c++) {
    const chats: VisitorChat[] = []
    for (let i = c * CHUNK_VISITORS; i < Math.min(plan.visitors, (c + 1) * CHUNK_VISITORS); i++) {
      const waiting = i >= plan.visitors - plan.waiting
      const count = share(plan.supportMessages, plan.visitors, i)
      const chat = visitorArrives(ops, s, broker, site.siteKey, waiting ? undefined : agents[i % AGENTS], count, Math.floor(first + i * step))
      messages += count
      sample ??= chat
      if (!waiting) chats.push(chat)
    }
    for (let u = Math.floor(c * plan.users / chunks); u < Math.floor((c + 1) * plan.users / chunks); u++) {
      const at = Math.floor(first + (u / plan.users) * HISTORY_MS)
      userPrincipal(ops, s, `user-${u}`, passwordHash, at)
      presence(ops, s, broker, `user-${u}`, true, at)
      for (let k = 1; k <= DIRECT_PEERS; k++) directConversation(ops, s, `user-${u}`, `user-${(u + k) % plan.users}`, DIRECT_MESSAGES, at + k * 100)
      presence(ops, s, broker, `user-${u}`, false, at + 60_000)
      messages += DIRECT_PEERS * DIRECT_MESSAGES
      directConversations += DIRECT_PEERS
    }
    open.push(chats)
    if (open.length > CLOSE_AFTER_CHUNKS) closeChats(open.shift()!)
    await flush()
    if (chunks >= 10 && (c + 1) % Math.ceil(chunks / 10) === 0) progress(`pre-fill: ${Math.min(plan.visitors, (c + 1) * CHUNK_VISITORS)} of ${plan.visitors} visitors written`)
  }
  for (const chats of open) closeChats(chats)
  ops.put(s.supportMeta, 'alive', String(Date.now()))
  await flush()
  await writing
  return { siteKey: site.siteKey, operations, messages, directConversations, sample: sample! }

  function closeChats (chats: VisitorChat[]): void {
    for (const chat of chats) closeVisitorChat(ops, s, broker, chat, chat.conv.createdAt + chat.conv.lastSeq + IDLE_RELEASE_MS)
  }
}

/** Waits until LevelDB's statistics (compactions per level) stop changing. */
async function settle (root: RootDb): Promise<void> {
  const until = performance.now() + SETTLE_MAX_MS
  let last = ''
  let quiet = 0
  while (quiet < SETTLE_QUIET_POLLS && performance.now() < until) {
    await sleep(SETTLE_POLL_MS)
    const stats = root.getProperty('leveldb.stats')
    quiet = stats === last ? quiet + 1 : 0
    last = stats
  }
}
