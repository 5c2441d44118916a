/**
 * What the browser bundles weigh on the wire, against their budgets (issues #5 and #10): builds the
 * widget and the console minified, as `npm run build` does, and reports each file raw and as the
 * broker sends it — brotli (quality 11) and gzip (-9), the files the build precompressed — then
 * the loads that matter:
 *
 * - widget **launcher**: `widget.js`, what every page of a site loads;
 * - widget **opened**: the launcher and every chunk, once the visitor opens the chat;
 * - console **first load**: index.html, the style sheet and the scripts of the sign-in page;
 * - console **signed in**: all of that and the desk's chunks (reported, no budget).
 *
 * Exits 1 when a budget is exceeded, so `npm test` and CI fail.
 *
 *   npm run size          KB = 1000 bytes
 */
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { WireSize } from './browser-build.js'
import { buildConsole, type ConsoleFile } from './build-console.js'
import { buildWidget, type WidgetFile } from './build-widget.js'

/** Budgets in bytes on the wire; brotli is what browsers get, gzip what a client without it gets. */
export const BUDGET = {
  widgetLauncher: { br: 6_000, gzip: 7_000 },
  widgetOpened: { br: 35_000, gzip: 40_000 },
  consoleFirstLoad: { br: 60_000, gzip: 70_000 }
} as const

type Budget = { readonly br: number, readonly gzip: number }
export type Budgets = { readonly widgetLauncher: Budget, readonly widgetOpened: Budget, readonly consoleFirstLoad: Budget }

/** A load: the files it fetches, summed. */
export interface LoadSize { name: string, bytes: number, gzipBytes: number, brBytes: number, budget?: Budget }

export interface SizeReport { loads: LoadSize[], lines: string[], over: string[] }

const kb = (bytes: number): string => `${(bytes / 1000).toFixed(1)} KB`
const columns = (label: string, s: Pick<WireSize, 'bytes' | 'gzipBytes' | 'brBytes'>): string =>
  `  ${label.padEnd(40)} ${kb(s.bytes).padStart(9)} ${kb(s.gzipBytes).padStart(9)} ${kb(s.brBytes).padStart(9)}`

function sum (name: string, files: readonly WireSize[], budget?: Budget): LoadSize {
  return {
    name,
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    gzipBytes: files.reduce((n, f) => n + f.gzipBytes, 0),
    brBytes: files.reduce((n, f) => n + f.brBytes, 0),
    ...(budget ? { budget } : {})
  }
}

/** The loads, a printable report, and what is over budget (empty when all is well). */
export function sizeReport (widget: readonly WidgetFile[], consoleFiles: readonly ConsoleFile[], budget: Budgets = BUDGET): SizeReport {
  const launcher = sum('launcher (every page)', widget.filter((f) => f.launcher), budget.widgetLauncher)
  const opened = sum('opened (everything)', widget, budget.widgetOpened)
  const firstLoad = sum('first load (the sign-in page)', consoleFiles.filter((f) => f.firstLoad), budget.consoleFirstLoad)
  const signedIn = sum('signed in (and the desk)', consoleFiles)
  const withBudget = (l: LoadSize): string => columns(l.name, l) + (l.budget ? `   budget ${kb(l.budget.br)} br, ${kb(l.budget.gzip)} gz` : '')
  const heading = (title: string): string => `${title.padEnd(42)} ${'raw'.padStart(9)} ${'gzip'.padStart(9)} ${'brotli'.padStart(9)}`
  const lines = [
    'on the wire: minified; gzip -9 and brotli 11 as the broker sends them; KB = 1000 bytes',
    heading('widget (/widget.js, /widget/…)'),
    ...widget.map((f) => columns(f.file, f)),
    withBudget(launcher),
    withBudget(opened),
    heading('console (/console)'),
    ...consoleFiles.map((f) => columns(f.firstLoad ? f.file : `${f.file} (after sign-in)`, f)),
    withBudget(firstLoad),
    withBudget(signedIn)
  ]
  const loads = [
    { ...launcher, name: `the widget's ${launcher.name}` },
    { ...opened, name: `the widget ${opened.name}` },
    { ...firstLoad, name: `the console's ${firstLoad.name}` },
    { ...signedIn, name: `the console ${signedIn.name}` }
  ]
  const over = loads.flatMap((l) => [
    ...(l.budget && l.brBytes > l.budget.br ? [`${l.name} is ${kb(l.brBytes)} brotli, over its ${kb(l.budget.br)} budget`] : []),
    ...(l.budget && l.gzipBytes > l.budget.gzip ? [`${l.name} is ${kb(l.gzipBytes)} gzipped, over its ${kb(l.budget.gzip)} budget`] : [])
  ])
  return { loads, lines, over }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [{ files: widget }, { files: consoleFiles }] = [await buildWidget(), await buildConsole()]
  const report = sizeReport(widget, consoleFiles)
  process.stdout.write(report.lines.join('\n') + '\n')
  if (report.over.length > 0) {
    process.stderr.write(`size check FAILED: ${report.over.join('; ')}\n`)
    process.exit(1)
  }
  process.stdout.write('size check passed\n')
}
