import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseBusinessHours } from '../../broker/support/business-hours.js'

describe('business hours', () => {
  it('is always open when empty', () => {
    assert.equal(parseBusinessHours('', 'UTC')(Date.UTC(2026, 10, 22, 3, 0)), true)
  })

  it('opens on the listed days and hours in the given time zone', () => {
    const open = parseBusinessHours('mon-fri 09:00-18:00; sat 10:00-14:00', 'Europe/Berlin')
    // 2026-11-23 is a Monday; Berlin is UTC+1 in November.
    assert.equal(open(Date.UTC(2026, 10, 23, 8, 0)), true, 'Mon 09:00 Berlin')
    assert.equal(open(Date.UTC(2026, 10, 23, 7, 59)), false, 'Mon 08:59 Berlin')
    assert.equal(open(Date.UTC(2026, 10, 23, 17, 0)), false, 'Mon 18:00 Berlin is closed')
    assert.equal(open(Date.UTC(2026, 10, 28, 9, 30)), true, 'Sat 10:30 Berlin')
    assert.equal(open(Date.UTC(2026, 10, 29, 10, 0)), false, 'Sunday')
  })

  it('wraps day ranges over the week end and refuses what it cannot read', () => {
    const open = parseBusinessHours('fri-mon 00:00-24:00', 'UTC')
    assert.equal(open(Date.UTC(2026, 10, 29, 12, 0)), true, 'Sunday inside fri-mon')
    assert.equal(open(Date.UTC(2026, 10, 25, 12, 0)), false, 'Wednesday')
    assert.throws(() => parseBusinessHours('weekdays 9-5', 'UTC'), /BUSINESS_HOURS: cannot read/)
    assert.throws(() => parseBusinessHours('mon 18:00-09:00', 'UTC'), /cannot read/)
  })
})
