/**
 * Customer-service state in the embedded store:
 *
 *   agents          {uid}                         → AgentRecord (no `active`: see slots)
 *   support-slots   {uid}!{cid}                   → ms taken  (a chat holding one of the agent's slots)
 *   support-claims  {cid}                         → {agent, at} (the chat's owner)
 *   support-open    {queuedAt, 15 digits}!{cid}   → ''    (open chats, FIFO)
 *   support-visitor {site}!{visitor}              → cid   (one open chat per visitor and site)
 *   support-seen    {uid}                         → ms    (visitor's last traffic)
 *   support-meta    alive                         → ms    (broker heartbeat)
 *   canned          {id}                          → CannedReply
 *
 * The embedded store is single-node: the read-then-write operations the port promises to be
 * atomic (a slot, a claim, a visitor's place, a patch) run alone for their key (KeyedLock).
 */
import type { AgentState, Conversation } from '../../../shared/protocol.js'
import { KeyedLock } from '../../lib/keyed-lock.js'
import type { AgentPatch, AgentRecord, CannedReply, SupportStore } from '../ports.js'
import { applyAgentPatch, toRecord, withSlots } from '../support-records.js'
import type { RootDb } from './open.js'

const pad = (n: number): string => String(n).padStart(15, '0')
const range = (prefix: string): { gt: string, lt: string } => ({ gt: `${prefix}!`, lt: `${prefix}!\xff` })
type StoredAgent = AgentRecord & { active?: string[] }

export class LevelSupportStore implements SupportStore {
  readonly #agents
  readonly #slots
  readonly #claims
  readonly #open
  readonly #byVisitor
  readonly #seen
  readonly #meta
  readonly #canned
  readonly #lock = new KeyedLock()
  /** the open-index key of each cid, so a state change can delete the old entry */
  readonly #openKey = new Map<string, string>()
  #loaded: Promise<void> | undefined
  #migrated: Promise<void> | undefined

  constructor (root: RootDb) {
    this.#agents = root.sublevel<string, StoredAgent>('agents', { valueEncoding: 'json' })
    this.#slots = root.sublevel<string, string>('support-slots', { valueEncoding: 'utf8' })
    this.#claims = root.sublevel<string, { agent: string, at: number }>('support-claims', { valueEncoding: 'json' })
    this.#open = root.sublevel<string, string>('support-open', { valueEncoding: 'utf8' })
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
    const old = this.#openKey.get(conv.cid)
    if (support.state === 'closed') {
      if (old) await this.#open.del(old)
      this.#openKey.delete(conv.cid)
      await this.releaseVisitor(support.site, support.visitor, conv.cid)
      return
    }
    const key = `${pad(support.queuedAt)}!${conv.cid}`
    if (old && old !== key) await this.#open.del(old)
    await this.#open.put(key, '')
    this.#openKey.set(conv.cid, key)
    await this.reserveVisitor(support.site, support.visitor, conv.cid)
  }

  async openCids (): Promise<string[]> {
    return (await this.#open.keys().all()).map((k) => k.slice(k.indexOf('!') + 1))
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

  /** Reads the open index once per process to know each cid's current key. */
  async #load (): Promise<void> {
    this.#loaded ??= this.#open.keys().all().then((keys) => {
      for (const key of keys) this.#openKey.set(key.slice(key.indexOf('!') + 1), key)
    })
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
