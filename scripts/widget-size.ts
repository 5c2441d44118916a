/**
 * The widget's weight against its budgets (issue #5): builds it minified, gzips every script as a
 * server would send it, and prints the launcher (what every page loads) and the total (everything,
 * once the chat is open). Exits 1 when a budget is exceeded, so `npm test` and CI fail.
 *
 *   npm run size          KB = 1000 bytes
 */
import { buildWidget } from './build-widget.js'

export const BUDGET = { launcherGzipBytes: 15_000, totalGzipBytes: 85_000 }

const kb = (bytes: number): string => `${(bytes / 1000).toFixed(1)} KB`

const { files } = await buildWidget()
const launcher = files.filter((f) => f.launcher).reduce((sum, f) => sum + f.gzipBytes, 0)
const total = files.reduce((sum, f) => sum + f.gzipBytes, 0)
const lines = [
  'widget size (minified; gzip -9)',
  ...files.map((f) => `  ${f.file.padEnd(28)} ${kb(f.bytes).padStart(9)}  ${kb(f.gzipBytes).padStart(8)} gz`),
  `launcher: ${kb(launcher)} gzipped (budget ${kb(BUDGET.launcherGzipBytes)})`,
  `total:    ${kb(total)} gzipped (budget ${kb(BUDGET.totalGzipBytes)})`
]
process.stdout.write(lines.join('\n') + '\n')
const over = [
  ...(launcher > BUDGET.launcherGzipBytes ? [`the launcher is ${kb(launcher)}, over its ${kb(BUDGET.launcherGzipBytes)} budget`] : []),
  ...(total > BUDGET.totalGzipBytes ? [`the widget is ${kb(total)} in all, over its ${kb(BUDGET.totalGzipBytes)} budget`] : [])
]
if (over.length > 0) {
  process.stderr.write(`widget size check FAILED: ${over.join('; ')}\n`)
  process.exit(1)
}
process.stdout.write('widget size check passed\n')
