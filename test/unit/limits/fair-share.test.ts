/**
 * The fair share of a site's new-visitor budget, and the networks that count as one source.
 * [IM-LIMIT-FAIR]
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { addressPrefix } from '../../../broker/limits/address-prefix.js'
import { FairShareBudget } from '../../../broker/limits/fair-share.js'

describe('addressPrefix', () => {
  it('counts an IPv4 address as its /24, also written as an IPv4-mapped IPv6 address', () => {
    assert.equal(addressPrefix('203.0.113.77'), '203.0.113.0/24')
    assert.equal(addressPrefix('203.0.113.1'), addressPrefix('203.0.113.254'))
    assert.notEqual(addressPrefix('203.0.113.1'), addressPrefix('203.0.114.1'))
    assert.equal(addressPrefix('::ffff:203.0.113.9'), '203.0.113.0/24')
    assert.equal(addressPrefix('::ffff:cb00:7109'), '203.0.113.0/24')
  })

  it('counts an IPv6 address as its /56, however it is written', () => {
    assert.equal(addressPrefix('2001:db8:aa:bb12::1'), '2001:db8:aa:bb00::/56')
    assert.equal(addressPrefix('2001:0db8:00aa:bbff:ffff:ffff:ffff:ffff'), '2001:db8:aa:bb00::/56')
    assert.equal(addressPrefix('2001:db8:aa:bb00:1:2:3:4%eth0'), '2001:db8:aa:bb00::/56')
    assert.notEqual(addressPrefix('2001:db8:aa:bb00::1'), addressPrefix('2001:db8:aa:bc00::1'))
    assert.equal(addressPrefix('::1'), '0:0:0:0::/56')
    assert.equal(addressPrefix('fe80::1:2:3.4.5.6'), 'fe80:0:0:0::/56')
  })

  it('leaves anything that is not an address as it is', () => {
    assert.equal(addressPrefix(''), '')
    assert.equal(addressPrefix('unix-socket'), 'unix-socket')
  })
})

describe('FairShareBudget', () => {
  const budget = (perWindow: number, sharePercent: number, clock = { now: 0 }): FairShareBudget =>
    new FairShareBudget({ perWindow, sharePercent, windowMs: 60_000, now: () => clock.now })
  /** `source` takes until refused; how many it got. */
  const drain = (b: FairShareBudget, key: string, source: string, tries = 10_000): number => {
    let got = 0
    while (got < tries && b.take(key, source) === undefined) got++
    return got
  }

  it('gives one source of a quiet site its share of the whole budget, then refuses it with the time left in the window', () => {
    const clock = { now: 1000 }
    const b = budget(1200, 5, clock)
    assert.equal(drain(b, 'site', 'a'), 60)
    clock.now = 31_000
    assert.deepEqual(b.take('site', 'a'), { limit: 'share', retryMs: 30_000 })
    assert.equal(b.take('site', 'b'), undefined, 'another source still gets in')
    assert.equal(b.take('other-site', 'a'), undefined, 'each site has its own budget')
    clock.now = 61_000
    assert.equal(drain(b, 'site', 'a'), 60, 'a new window, a new share')
  })

  it('keeps the budget open to fresh sources while 21, 40 or 100 sources flood it', () => {
    for (const [flooders, most] of [[21, 0.53], [40, 0.68], [100, 0.84]] as const) {
      const b = budget(1200, 5)
      // round-robin, as a flood from many addresses at once arrives
      let progress = true
      while (progress) {
        progress = false
        for (let s = 0; s < flooders; s++) if (b.take('site', `bot-${s}`) === undefined) progress = true
      }
      let fresh = 0
      while (b.take('site', `fresh-${fresh}`) === undefined) fresh++
      assert.ok(fresh >= 1200 * (1 - most) - flooders, `${flooders} flooders left ${fresh} new visitors for fresh sources`)
      assert.ok(fresh <= 1200 * (1 - most) + flooders, `${flooders} flooders took about ${most * 100} %: ${1200 - fresh}`)
      assert.deepEqual(b.take('site', 'one-more'), { limit: 'budget', retryMs: 60_000 }, 'the whole budget still bounds everyone')
    }
  })

  it('at 100 % lets one source take the whole budget (no fairness)', () => {
    const b = budget(50, 100)
    assert.equal(drain(b, 'site', 'a'), 50)
    assert.equal(b.take('site', 'b')?.limit, 'budget')
  })

  it('forgets ended windows', () => {
    const clock = { now: 0 }
    const b = budget(10, 50, clock)
    for (let i = 0; i < 100; i++) b.take(`site-${i}`, 'a')
    assert.equal(b.size, 100)
    clock.now = 60_000
    assert.equal(b.take('site-0', 'a'), undefined)
    assert.equal(b.size, 1, 'the other sites\' windows ended and are gone')
    assert.equal(drain(b, 'site-0', 'a'), 4, 'site-0 started over: 5 of 10 for one source')
  })
})
