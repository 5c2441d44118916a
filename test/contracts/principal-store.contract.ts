/**
 * The contract every `PrincipalStore` and `SiteStore` must meet. Run it with a `build` that
 * returns fresh, empty stores (and a `close`).
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { PrincipalRecord, PrincipalStore, SiteStore } from '../../broker/store/ports.js'

export interface PrincipalStoreFixture { principals: PrincipalStore, sites: SiteStore, close (): Promise<void> }

const record = (uid: string, role: PrincipalRecord['role'] = 'user'): PrincipalRecord =>
  ({ uid, role, grants: { presence: [], channels: [] }, createdAt: 1, updatedAt: 1 })

export function runPrincipalStoreContract (build: () => Promise<PrincipalStoreFixture>): void {
  it('creates, reads and lists principals', async () => {
    const s = await build()
    try {
      assert.equal(await s.principals.get('nobody'), undefined)
      await s.principals.create(record('alice'))
      await s.principals.create(record('lamp', 'device'))
      assert.deepEqual(await s.principals.get('alice'), record('alice'))
      assert.deepEqual((await s.principals.list()).map((p) => p.uid).sort(), ['alice', 'lamp'])
      assert.deepEqual((await s.principals.list({ role: 'device' })).map((p) => p.uid), ['lamp'])
    } finally { await s.close() }
  })

  it('refuses to create a uid twice, also when both creates race', async () => {
    const s = await build()
    try {
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => s.principals.create(record('bob'))))
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
      for (const r of results.filter((r) => r.status === 'rejected')) assert.equal((r.reason as { code: string }).code, 'IM_ERR_PRINCIPAL_EXISTS')
    } finally { await s.close() }
  })

  it('replaces a principal of the same incarnation, also one stored without an incarnation', async () => {
    const s = await build()
    try {
      await s.principals.create({ ...record('carol'), incarnation: 'inc-c1' })
      assert.equal(await s.principals.replace({ ...record('carol'), incarnation: 'inc-c1', name: 'Carol', updatedAt: 2 }), true)
      assert.deepEqual(await s.principals.get('carol'), { ...record('carol'), incarnation: 'inc-c1', name: 'Carol', updatedAt: 2 })
      await s.principals.create(record('old-timer')) // stored before incarnations existed
      assert.equal(await s.principals.replace({ ...record('old-timer'), name: 'Old' }), true)
      assert.equal((await s.principals.get('old-timer'))?.name, 'Old')
      assert.equal((await s.principals.get('old-timer'))?.incarnation, undefined)
    } finally { await s.close() }
  })

  it('never brings a deleted principal back with replace, nor writes over its next incarnation', async () => {
    const s = await build()
    try {
      await s.principals.create({ ...record('cid'), incarnation: 'inc-1' })
      const read = await s.principals.get('cid')
      assert.ok(read)
      assert.equal(await s.principals.delete('cid', 10), true)
      assert.equal(await s.principals.replace({ ...read, disabled: true }), false, 'a change read before the delete')
      assert.equal(await s.principals.get('cid'), undefined)
      await s.principals.create({ ...record('cid'), incarnation: 'inc-2' })
      assert.equal(await s.principals.replace({ ...read, disabled: true }), false, 'nor over the uid created again')
      assert.deepEqual(await s.principals.get('cid'), { ...record('cid'), incarnation: 'inc-2' })
      assert.equal(await s.principals.replace({ ...record('nobody'), incarnation: 'x' }), false)
      assert.equal(await s.principals.get('nobody'), undefined)
      // a record without an incarnation does not match one with, nor the other way round
      await s.principals.create(record('mixed'))
      assert.equal(await s.principals.replace({ ...record('mixed'), incarnation: 'inc-m' }), false)
      assert.equal((await s.principals.get('mixed'))?.incarnation, undefined)
    } finally { await s.close() }
  })

  it('deletes a principal once, remembers when, and keeps a disabled flag, token generation and incarnation it was given', async () => {
    const s = await build()
    try {
      await s.principals.create({ ...record('dave'), disabled: true, tokenGeneration: 3, incarnation: 'inc-d1' })
      assert.equal((await s.principals.get('dave'))?.disabled, true)
      assert.equal((await s.principals.get('dave'))?.tokenGeneration, 3)
      assert.equal((await s.principals.get('dave'))?.incarnation, 'inc-d1')
      assert.equal(await s.principals.deletedAt('dave'), undefined)
      assert.equal(await s.principals.delete('dave', 1234), true)
      assert.equal(await s.principals.get('dave'), undefined)
      assert.equal(await s.principals.deletedAt('dave'), 1234)
      assert.equal(await s.principals.delete('dave', 5678), false)
      assert.equal(await s.principals.deletedAt('dave'), 1234, 'a delete of nothing changes nothing')
      assert.deepEqual((await s.principals.list()).map((p) => p.uid), [])
      await s.principals.create({ ...record('dave'), incarnation: 'inc-d2' }) // the uid is free again
      assert.equal((await s.principals.get('dave'))?.incarnation, 'inc-d2')
      assert.equal(await s.principals.deletedAt('dave'), 1234, 'still known after the create')
      assert.equal(await s.principals.delete('dave', 9999), true)
      assert.equal(await s.principals.deletedAt('dave'), 9999)
    } finally { await s.close() }
  })

  it('replaces a site with put (a rotated secret)', async () => {
    const s = await build()
    try {
      await s.sites.create({ siteKey: 'site_r', name: 'R', secret: 'old', createdAt: 1 })
      await s.sites.put({ siteKey: 'site_r', name: 'R', secret: 'new', createdAt: 1 })
      assert.equal((await s.sites.get('site_r'))?.secret, 'new')
      assert.equal((await s.sites.list()).length, 1)
    } finally { await s.close() }
  })

  it('stores and lists sites', async () => {
    const s = await build()
    try {
      await s.sites.create({ siteKey: 'site_a', name: 'A', secret: 's', createdAt: 1 })
      assert.equal((await s.sites.get('site_a'))?.name, 'A')
      assert.equal(await s.sites.get('site_b'), undefined)
      assert.deepEqual((await s.sites.list()).map((x) => x.siteKey), ['site_a'])
    } finally { await s.close() }
  })
}
