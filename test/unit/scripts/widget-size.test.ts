/** The size check: what the widget and the console weigh on the wire, and a budget exceeded is a failure. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BUDGET, sizeReport } from '../../../scripts/widget-size.js'

/** A file that compresses as scripts do: gzip a third of the raw size, brotli a little less. */
const sized = (file: string, brBytes: number, gzipBytes = Math.round(brBytes * 1.15)) => ({ file, bytes: gzipBytes * 3, gzipBytes, brBytes })
const widgetFile = (name: string, brBytes: number, launcher = false, gzipBytes?: number) => ({ ...sized(name, brBytes, gzipBytes), launcher })
const consoleFile = (name: string, brBytes: number, firstLoad = true) => ({ ...sized(name, brBytes), firstLoad })

const WIDGET = [widgetFile('widget.js', 5000, true), widgetFile('engine-AAAAAAAA.js', 13_000), widgetFile('panel-BBBBBBBB.js', 14_000)]
const CONSOLE = [consoleFile('index.html', 200), consoleFile('console-CCCCCCCC.js', 2000), consoleFile('chunk-DDDDDDDD.js', 12_000), consoleFile('agent-desk-EEEEEEEE.js', 107_000, false)]

describe('the size check', () => {
  it('sums the widget launcher, the opened widget, the console before and after sign-in — raw, gzip and brotli', () => {
    const report = sizeReport(WIDGET, CONSOLE)
    const load = (name: RegExp) => report.loads.find((l) => name.test(l.name))
    assert.deepEqual(load(/launcher/), { name: "the widget's launcher (every page)", bytes: 17_250, gzipBytes: 5750, brBytes: 5000, budget: BUDGET.widgetLauncher })
    assert.equal(load(/widget opened/)?.brBytes, 32_000)
    assert.equal(load(/first load/)?.brBytes, 14_200, 'the sign-in page: no desk')
    assert.equal(load(/signed in/)?.brBytes, 121_200, 'signed in: the desk too')
    assert.equal(load(/signed in/)?.budget, undefined, 'no budget after sign-in')
    assert.deepEqual(report.over, [])
  })

  it('prints every file and every load with its budget', () => {
    const { lines } = sizeReport(WIDGET, CONSOLE)
    assert.ok(lines.some((l) => /^ {2}widget\.js +17\.3 KB +5\.8 KB +5\.0 KB$/.test(l)), lines.join('\n'))
    assert.ok(lines.some((l) => /^ {2}agent-desk-EEEEEEEE\.js \(after sign-in\)/.test(l)))
    assert.ok(lines.some((l) => /^ {2}launcher \(every page\) .* 5\.0 KB {3}budget 6\.0 KB br, 7\.0 KB gz$/.test(l)))
    assert.ok(lines.some((l) => /^ {2}opened \(everything\) .* 32\.0 KB {3}budget 35\.0 KB br, 40\.0 KB gz$/.test(l)))
    assert.ok(lines.some((l) => /^ {2}first load \(the sign-in page\) .* 14\.2 KB {3}budget 60\.0 KB br, 70\.0 KB gz$/.test(l)))
  })

  it('fails when the launcher, the opened widget or the console first load is over a budget', () => {
    const heavyLauncher = sizeReport([widgetFile('widget.js', BUDGET.widgetLauncher.br + 1, true, 6000)], CONSOLE)
    assert.deepEqual(heavyLauncher.over, ["the widget's launcher (every page) is 6.0 KB brotli, over its 6.0 KB budget"])
    const heavyGzip = sizeReport([widgetFile('widget.js', 5000, true, BUDGET.widgetLauncher.gzip + 1)], CONSOLE)
    assert.deepEqual(heavyGzip.over, ["the widget's launcher (every page) is 7.0 KB gzipped, over its 7.0 KB budget"])
    const heavyWidget = sizeReport([...WIDGET, widgetFile('chunk-FFFFFFFF.js', 4000, false, 3000)], CONSOLE)
    assert.deepEqual(heavyWidget.over, ['the widget opened (everything) is 36.0 KB brotli, over its 35.0 KB budget'])
    const heavyConsole = sizeReport(WIDGET, [...CONSOLE, consoleFile('chunk-GGGGGGGG.js', 50_000)])
    assert.match(heavyConsole.over.join('; '), /the console's first load \(the sign-in page\) is 64\.2 KB brotli, over its 60\.0 KB budget/)
  })

  it('never counts what loads after sign-in against the first-load budget', () => {
    const report = sizeReport(WIDGET, [...CONSOLE, consoleFile('agent-desk-HHHHHHHH.js', 500_000, false)])
    assert.deepEqual(report.over, [])
  })
})
