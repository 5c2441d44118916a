/**
 * The contract every `SessionStore` must meet. Run it with a `build` that returns a fresh, empty
 * store (and a `close`). [IM-SESSION-1]
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { SessionRecord, SessionStore } from '../../broker/store/ports.js'

export interface SessionStoreFixture { sessions: SessionStore, close (): Promise<void> }

async function all (store: SessionStore): Promise<SessionRecord[]> {
  const out: SessionRecord[] = []
  for await (const record of store.list()) out.push(record)
  return out
}

export function runSessionStoreContract (build: () => Promise<SessionStoreFixture>): void {
  it('keeps, replaces, lists and deletes session records', async () => {
    const s = await build()
    try {
      assert.equal(await s.sessions.get('tab-1'), undefined)
      await s.sessions.put({ clientId: 'tab-1', uid: 'v_1', role: 'visitor', online: true, lastSeen: 10 })
      await s.sessions.put({ clientId: 'sensor/7', online: false, lastSeen: 5 })
      await s.sessions.put({ clientId: 'tab-1', uid: 'v_1', role: 'visitor', online: false, lastSeen: 20 })
      assert.deepEqual(await s.sessions.get('tab-1'), { clientId: 'tab-1', uid: 'v_1', role: 'visitor', online: false, lastSeen: 20 })
      assert.deepEqual((await all(s.sessions)).map((r) => [r.clientId, r.lastSeen]), [['sensor/7', 5], ['tab-1', 20]])
      await s.sessions.delete('tab-1')
      await s.sessions.delete('never-there')
      assert.equal(await s.sessions.get('tab-1'), undefined)
      assert.deepEqual((await all(s.sessions)).map((r) => r.clientId), ['sensor/7'])
    } finally { await s.close() }
  })
}
