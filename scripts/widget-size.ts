/**
 * The widget's weight against its budgets (issue #5): builds it minified, gzips every script as a
 * server would send it, and prints the launcher (what every page loads) and the total (everything,
 * once the chat is open). Exits 1 when a budget is exceeded, so `npm test` and CI fail.
 *
 *   npm run size          KB = 1000 bytes
 */
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildWidget, type WidgetFile } from './build-widget.js'

export const BUDGET = { launcherGzipBytes: 15_000, totalGzipBytes: 85_000 }

const kb = (bytes: number): string => `${(bytes / 1000).toFixed(1)} KB`

export interface SizeReport { launcher: number, total: number, lines: string[], over: string[] }

/** The two figures, a printable report, and what is over budget (empty when all is well). */
export function sizeReport (files: readonly WidgetFile[], budget = BUDGET): SizeReport {
  const launcher = files.filter((f) => f.launcher).reduce((sum, f) => sum + f.gzipBytes, 0)
  const total = files.reduce((sum, f) => sum + f.gzipBytes, 0)
  const lines = [
    'widget size (minified; gzip -9)',
    ...files.map((f) => `  ${f.file.padEnd(28)} ${kb(f.bytes).padStart(9)}  ${kb(f.gzipBytes).padStart(8)} gz`),
    `launcher: ${kb(launcher)} gzipped (budget ${kb(budget.launcherGzipBytes)})`,
    `total:    ${kb(total)} gzipped (budget ${kb(budget.totalGzipBytes)})`
  ]
  const over = [
    ...(launcher > budget.launcherGzipBytes ? [`the launcher is ${kb(launcher)}, over its ${kb(budget.launcherGzipBytes)} budget`] : []),
    ...(total > budget.totalGzipBytes ? [`the widget is ${kb(total)} in all, over its ${kb(budget.totalGzipBytes)} budget`] : [])
  ]
  return { launcher, total, lines, over }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { files } = await buildWidget()
  const report = sizeReport(files)
  process.stdout.write(report.lines.join('\n') + '\n')
  if (report.over.length > 0) {
    process.stderr.write(`widget size check FAILED: ${report.over.join('; ')}\n`)
    process.exit(1)
  }
  process.stdout.write('widget size check passed\n')
}
