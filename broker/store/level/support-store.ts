/**
 * Customer-service state in the embedded store:
 *
 *   agents          {uid}                         → AgentState
 *   support-open    {queuedAt, 15 digits}!{cid}   → ''    (open chats, FIFO)
 *   support-visitor {site}!{visitor}              → cid   (one open chat per visitor and site)
 *   support-seen    {uid}                         → ms    (visitor's last traffic)
 *   support-meta    alive                         → ms    (broker heartbeat)
 *   canned          {id}                          → CannedReply
 */
import type { AgentState, Conversation } from '../../../shared/protocol.js'
import type { CannedReply, SupportStore } from '../ports.js'
import type { RootDb } from './open.js'

const pad = (n: number): string => String(n).padStart(15, '0')

export class LevelSupportStore implements SupportStore {
  readonly #agents
  readonly #open
  readonly #byVisitor
  readonly #seen
  readonly #meta
  readonly #canned
  /** the open-index key of each cid, so a state change can delete the old entry */
  readonly #openKey = new Map<string, string>()
  #loaded: Promise<void> | undefined

  constructor (root: RootDb) {
    this.#agents = root.sublevel<string, AgentState>('agents', { valueEncoding: 'json' })
    this.#open = root.sublevel<string, string>('support-open', { valueEncoding: 'utf8' })
    this.#byVisitor = root.sublevel<string, string>('support-visitor', { valueEncoding: 'utf8' })
    this.#seen = root.sublevel<string, string>('support-seen', { valueEncoding: 'utf8' })
    this.#meta = root.sublevel<string, string>('support-meta', { valueEncoding: 'utf8' })
    this.#canned = root.sublevel<string, CannedReply>('canned', { valueEncoding: 'json' })
  }

  async getAgent (uid: string): Promise<AgentState | undefined> { return await this.#agents.get(uid) }
  async putAgent (agent: AgentState): Promise<void> { await this.#agents.put(agent.uid, agent) }
  async listAgents (): Promise<AgentState[]> { return await this.#agents.values().all() }

  async indexOpen (conv: Conversation): Promise<void> {
    const support = conv.support
    if (!support) return
    await this.#load()
    const old = this.#openKey.get(conv.cid)
    const visitorKey = `${support.site}!${support.visitor}`
    if (support.state === 'closed') {
      if (old) await this.#open.del(old)
      this.#openKey.delete(conv.cid)
      if (await this.#byVisitor.get(visitorKey) === conv.cid) await this.#byVisitor.del(visitorKey)
      return
    }
    const key = `${pad(support.queuedAt)}!${conv.cid}`
    if (old && old !== key) await this.#open.del(old)
    await this.#open.put(key, '')
    await this.#byVisitor.put(visitorKey, conv.cid)
    this.#openKey.set(conv.cid, key)
  }

  async openCids (): Promise<string[]> {
    return (await this.#open.keys().all()).map((k) => k.slice(k.indexOf('!') + 1))
  }

  async openFor (site: string, visitor: string): Promise<string | undefined> {
    return await this.#byVisitor.get(`${site}!${visitor}`)
  }

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

  /** Reads the open index once per process to know each cid's current key. */
  async #load (): Promise<void> {
    this.#loaded ??= this.#open.keys().all().then((keys) => {
      for (const key of keys) this.#openKey.set(key.slice(key.indexOf('!') + 1), key)
    })
    await this.#loaded
  }
}
