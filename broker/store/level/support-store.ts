/**
 * Customer-service state in the embedded store:
 *
 *   agents          {uid}                         → AgentRecord (no `active`: see slots)
 *   support-slots   {uid}!{cid}                   → ms taken  (a chat holding one of the agent's slots)
 *   support-claims  {cid}                         → {agent, at} (the chat's owner)
 *   support-open    {queuedAt, 15 digits}!{cid}   → state (open chats, FIFO; '' from before states were kept)
 *   support-queue   {tier}!{queuedAt}!{cid}       → visitor (waiting chats in queue order: tier 0 = the
 *                                                    visitor wrote, 1 = not yet) [IM-SUPPORT-RANK]
 *   support-visitor {site}!{visitor}              → cid   (one open chat per visitor and site)
 *   support-seen    {uid}                         → ms    (visitor's last traffic)
 *   support-meta    alive                         → ms    (broker heartbeat)
 *   canned          {id}                          → CannedReply
 *
 * The embedded store is single-node: the read-then-write operations the port promises to be
 * atomic (a slot, a claim, a visitor's place, a patch, a chat's index entries) run alone for their
 * key (KeyedLock). The keys of every open chat are kept in memory (read once per process), so a
 * change deletes the old entries and the queue's counts need no scan.
 */
import type { AgentState, Conversation } from '../../../shared/protocol.js'
import { KeyedLock } from '../../lib/keyed-lock.js'
import type { AgentPatch, AgentRecord, CannedReply, QueueCounts, QueueEntry, SupportStore } from '../ports.js'
import { applyAgentPatch, queueEntry, toRecord, withSlots } from '../support-records.js'
import type { RootDb } from './open.js'
import { writeBatchOf, type BatchOp, type WriteBatch } from './write-batch.js'

const pad = (n: number): string => String(n).padStart(15, '0')
const range = (prefix: string): { gt: string, lt: string } => ({ gt: `${prefix}!`, lt: `${prefix}!\xff` })
type StoredAgent = AgentRecord & { active?: string[] }
const queueKey = (entry: QueueEntry): string => `${entry.wrote ? 0 : 1}!${pad(entry.queuedAt)}!${entry.cid}`

export class LevelSupportStore implements SupportStore {
  readonly #agents
  readonly #slots
  readonly #claims
  readonly #open
  readonly #queue
  readonly #byVisitor
  readonly #seen
  readonly #meta
  readonly #canned
  readonly #lock = new KeyedLock()
  readonly #batch: WriteBatch
  /** the open-index key of each cid, so a state change can delete the old entry */
  readonly #openKey = new Map<string, string>()
  /** the queue key of each waiting cid */
  readonly #queueKey = new Map<string, string>()
  /** open chats indexed before the index kept their state (and so their place in the queue) */
  readonly #unranked = new Set<string>()
  #loaded: Promise<void> | undefined
  #migrated: Promise<void> | undefined

  constructor (root: RootDb) {
    this.#agents = root.sublevel<string, StoredAgent>('agents', { valueEncoding: 'json' })
    this.#slots = root.sublevel<string, string>('support-slots', { valueEncoding: 'utf8' })
    this.#claims = root.sublevel<string, { agent: string, at: number }>('support-claims', { valueEncoding: 'json' })
    this.#open = root.sublevel<string, string>('support-open', { valueEncoding: 'utf8' })
    this.#queue = root.sublevel<string, string>('support-queue', { valueEncoding: 'utf8' })
    this.#batch = writeBatchOf(root)
    this.#byVisitor = root.sublevel<string, string>('support-visitor', { valueEncoding: 'utf8' })
    this.#seen = root.sublevel<string, string>('support-seen', { valueEncoding: 'utf8' })
    this.#meta = root.sublevel<string, string>('support-meta', { valueEncoding: 'utf8' })
    this.#canned = root.sublevel<string, CannedReply>('canned', { valueEncoding: 'json' })
  }

  // ---- agents and their slots ----

  async getAgent (uid: string): Promise<AgentState | undefined> {
    await this.#migrate()
    const record = await this.#agents.get(uid)
    return record === undefined ? undefined : withSlots(record, await this.#slotsOf(uid))
  }

  async putAgent (agent: AgentRecord): Promise<void> {
    await this.#lock.run(`agent:${agent.uid}`, async () => { await this.#agents.put(agent.uid, toRecord(agent)) })
  }

  async patchAgent (uid: string, patch: AgentPatch, create?: AgentRecord): Promise<void> {
    await this.#lock.run(`agent:${uid}`, async () => {
      const current = await this.#agents.get(uid) ?? create
      if (current) await this.#agents.put(uid, applyAgentPatch(current, patch))
    })
  }

  async listAgents (): Promise<AgentState[]> {
    await this.#migrate()
    const slots = await this.#slots.iterator().all()
    return (await this.#agents.values().all()).map((record) =>
      withSlots(record, slots.filter(([key]) => key.startsWith(`${record.uid}!`)).map(([key, at]) => ({ cid: key.slice(record.uid.length + 1), at: Number(at) }))))
  }

  async takeSlot (uid: string, cid: string, capacity: number, at: number): Promise<boolean> {
    return await this.#lock.run(`slots:${uid}`, async () => {
      if (await this.#slots.get(`${uid}!${cid}`) !== undefined) return true
      if ((await this.#slots.keys(range(uid)).all()).length >= capacity) return false
      await this.#slots.put(`${uid}!${cid}`, String(at))
      return true
    })
  }

  async releaseSlot (uid: string, cid: string): Promise<void> {
    await this.#lock.run(`slots:${uid}`, async () => { await this.#slots.del(`${uid}!${cid}`) })
  }

  // ---- who owns a chat ----

  async claim (cid: string, agent: string, at: number): Promise<boolean> {
    return await this.#lock.run(`claim:${cid}`, async () => {
      const held = await this.#claims.get(cid)
      if (held) return held.agent === agent
      await this.#claims.put(cid, { agent, at })
      return true
    })
  }

  async moveClaim (cid: string, from: string, to: string, at: number): Promise<boolean> {
    return await this.#lock.run(`claim:${cid}`, async () => {
      if ((await this.#claims.get(cid))?.agent !== from) return false
      await this.#claims.put(cid, { agent: to, at })
      return true
    })
  }

  async unclaim (cid: string, agent?: string): Promise<void> {
    await this.#lock.run(`claim:${cid}`, async () => {
      if (agent === undefined || (await this.#claims.get(cid))?.agent === agent) await this.#claims.del(cid)
    })
  }

  async claimOf (cid: string): Promise<{ agent: string, at: number } | undefined> {
    return await this.#claims.get(cid)
  }

  // ---- visitors' places and the open index ----

  async reserveVisitor (site: string, visitor: string, cid: string): Promise<string> {
    return await this.#lock.run(`visitor:${site}!${visitor}`, async () => {
      const holder = await this.#byVisitor.get(`${site}!${visitor}`)
      if (holder !== undefined) return holder
      await this.#byVisitor.put(`${site}!${visitor}`, cid)
      return cid
    })
  }

  async releaseVisitor (site: string, visitor: string, cid: string): Promise<void> {
    await this.#lock.run(`visitor:${site}!${visitor}`, async () => {
      if (await this.#byVisitor.get(`${site}!${visitor}`) === cid) await this.#byVisitor.del(`${site}!${visitor}`)
    })
  }

  async indexOpen (conv: Conversation): Promise<void> {
    const support = conv.support
    if (!support) return
    await this.#load()
    await this.#lock.run(`open:${conv.cid}`, async () => { await this.#index(conv) })
    if (support.state === 'closed') await this.releaseVisitor(support.site, support.visitor, conv.cid)
    else await this.reserveVisitor(support.site, support.visitor, conv.cid)
  }

  async openCids (): Promise<string[]> {
    return (await this.#open.keys().all()).map((k) => k.slice(k.indexOf('!') + 1))
  }

  async queue (limit: number, after?: QueueEntry): Promise<QueueEntry[]> {
    const range = after === undefined ? {} : { gt: queueKey(after) }
    return (await this.#queue.iterator({ ...range, limit }).all()).map(([key, visitor]) => {
      const [tier, at] = key.split('!', 2) as [string, string]
      return { cid: key.slice(tier.length + at.length + 2), visitor, queuedAt: Number(at), wrote: tier === '0' }
    })
  }

  async queueCounts (): Promise<QueueCounts> {
    await this.#load()
    let silent = 0
    for (const key of this.#queueKey.values()) if (key.startsWith('1!')) silent++
    return { total: this.#queueKey.size, silent }
  }

  async unranked (limit: number): Promise<string[]> {
    await this.#load()
    return [...this.#unranked].slice(0, limit)
  }

  async rank (conv: Conversation): Promise<void> {
    await this.#load()
    if (!this.#unranked.has(conv.cid)) return
    await this.indexOpen(conv)
  }

  async openFor (site: string, visitor: string): Promise<string | undefined> {
    return await this.#byVisitor.get(`${site}!${visitor}`)
  }

  // ---- visitors' last traffic and the heartbeat ----

  async setSeen (uid: string, ts: number): Promise<void> { await this.#seen.put(uid, String(ts)) }
  async seen (uid: string): Promise<number | undefined> {
    const value = await this.#seen.get(uid)
    return value === undefined ? undefined : Number(value)
  }

  async setAliveAt (ts: number): Promise<void> { await this.#meta.put('alive', String(ts)) }
  async aliveAt (): Promise<number | undefined> {
    const value = await this.#meta.get('alive')
    return value === undefined ? undefined : Number(value)
  }

  async putCanned (reply: CannedReply): Promise<void> { await this.#canned.put(reply.id, reply) }
  async deleteCanned (id: string): Promise<void> { await this.#canned.del(id) }
  async listCanned (): Promise<CannedReply[]> { return await this.#canned.values().all() }

  async #slotsOf (uid: string): Promise<Array<{ cid: string, at: number }>> {
    return (await this.#slots.iterator(range(uid)).all()).map(([key, at]) => ({ cid: key.slice(uid.length + 1), at: Number(at) }))
  }

  /** A chat's entries in the open index and the queue, in one batch. Runs alone for the chat. */
  async #index (conv: Conversation): Promise<void> {
    const cid = conv.cid
    const state = conv.support!.state
    const oldOpen = this.#openKey.get(cid)
    const oldQueue = this.#queueKey.get(cid)
    const open = state === 'closed' ? undefined : `${pad(conv.support!.queuedAt)}!${cid}`
    const queued = state === 'waiting' ? queueKey(queueEntry(conv)) : undefined
    const ops: BatchOp[] = []
    if (oldOpen !== undefined && oldOpen !== open) ops.push({ type: 'del', sublevel: this.#open, key: oldOpen })
    if (oldQueue !== undefined && oldQueue !== queued) ops.push({ type: 'del', sublevel: this.#queue, key: oldQueue })
    if (open !== undefined) ops.push({ type: 'put', sublevel: this.#open, key: open, value: state })
    if (queued !== undefined) ops.push({ type: 'put', sublevel: this.#queue, key: queued, value: conv.support!.visitor })
    await this.#batch.write(ops)
    if (open === undefined) this.#openKey.delete(cid)
    else this.#openKey.set(cid, open)
    if (queued === undefined) this.#queueKey.delete(cid)
    else this.#queueKey.set(cid, queued)
    this.#unranked.delete(cid)
  }

  /** Reads the open index and the queue once per process to know each cid's current keys. */
  async #load (): Promise<void> {
    this.#loaded ??= (async () => {
      for (const [key, state] of await this.#open.iterator().all()) {
        const cid = key.slice(key.indexOf('!') + 1)
        this.#openKey.set(cid, key)
        if (state === '') this.#unranked.add(cid)
      }
      for (const key of await this.#queue.keys().all()) this.#queueKey.set(key.slice(key.indexOf('!', 2) + 1), key)
    })()
    await this.#loaded
  }

  /** Once per process: agents stored with an `active` list (before slots) get their slots. */
  async #migrate (): Promise<void> {
    this.#migrated ??= (async () => {
      for (const record of await this.#agents.values().all()) {
        if (!record.active) continue
        for (const cid of record.active) await this.#slots.put(`${record.uid}!${cid}`, String(record.idleSince))
        await this.#agents.put(record.uid, toRecord(record))
      }
    })()
    await this.#migrated
  }
}
