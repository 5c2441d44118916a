/** The widget's size check: both figures reported, and a budget exceeded is a failure. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BUDGET, sizeReport } from '../../../scripts/widget-size.js'

const file = (name: string, gzipBytes: number, launcher = false) => ({ file: name, bytes: gzipBytes * 3, gzipBytes, launcher })

describe('the widget size check', () => {
  it('passes within budget and prints the launcher and the total', () => {
    const report = sizeReport([file('widget.js', 6000, true), file('engine-AAAAAAAA.js', 15_000), file('panel-BBBBBBBB.js', 16_000)])
    assert.equal(report.launcher, 6000)
    assert.equal(report.total, 37_000)
    assert.deepEqual(report.over, [])
    assert.ok(report.lines.some((l) => l.startsWith('launcher: 6.0 KB gzipped (budget 15.0 KB)')))
    assert.ok(report.lines.some((l) => l.startsWith('total:    37.0 KB gzipped (budget 85.0 KB)')))
  })

  it('fails when the launcher or the whole widget is over its budget', () => {
    const heavyLauncher = sizeReport([file('widget.js', BUDGET.launcherGzipBytes + 1, true)])
    assert.equal(heavyLauncher.over.length, 1)
    assert.match(heavyLauncher.over[0] ?? '', /launcher is 15\.0 KB, over/)
    const heavyTotal = sizeReport([file('widget.js', 5000, true), file('panel-CCCCCCCC.js', BUDGET.totalGzipBytes)])
    assert.equal(heavyTotal.over.length, 1)
    assert.match(heavyTotal.over[0] ?? '', /widget is 90\.0 KB in all, over its 85\.0 KB budget/)
  })
})
