/**
 * Builds the chat widget into `dist/widget/`, in two parts so the host page loads little:
 *
 * - `widget.js`: the launcher (plain DOM, no Lit) as a classic script — the one file a site's
 *   snippet loads. It knows the hashed names of the chunks below and imports them when needed.
 * - `engine-<hash>.js` (the visitor session, the client library, the minimal MQTT client) and
 *   `panel-<hash>.js` (Lit and the chat UI), ES modules with shared chunks, loaded on open, or the
 *   engine alone at idle time when a chat is going on. Hashed names can be cached for good.
 *
 * Every file is precompressed beside itself (`.br`, `.gz`; see browser-build.ts), which the broker
 * sends to a browser that accepts it.
 *
 *   npm run build:widget                 (also part of `npm run build` and `npm start`)
 *   tsx scripts/build-widget.ts --dev    (no minification)
 *
 * `scripts/widget-size.ts` measures the result against the budgets.
 */
import { readFile } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { browserBuildOptions, buildStaged, precompress, ROOT, type WireSize } from './browser-build.js'

export const WIDGET_OUT_DIR = resolve(ROOT, 'dist', 'widget')

/** A script of the widget and its weight (raw, gzip -9, brotli 11: as the broker sends it). */
export interface WidgetFile extends WireSize { launcher: boolean }
export interface WidgetBuild { outDir: string, files: WidgetFile[] }

/**
 * Builds into a fresh temporary folder, then moves each file into `outDir` (see `buildStaged`):
 * a broker serving `outDir` meanwhile — another test process building at the same time — never
 * sees a missing or half-written file, and `widget.js` comes last, after the chunks it names.
 */
export async function buildWidget ({ outDir = WIDGET_OUT_DIR, minify = true }: { outDir?: string, minify?: boolean } = {}): Promise<WidgetBuild> {
  const files = await buildStaged(outDir, ['widget.js'], async (stage) => await buildInto(stage, minify))
  return { outDir, files }
}

async function buildInto (outDir: string, minify: boolean): Promise<WidgetFile[]> {
  const version = (JSON.parse(await readFile(resolve(ROOT, 'package.json'), 'utf8')) as { version: string }).version
  const common = browserBuildOptions(minify)
  const chunks = await build({
    ...common,
    entryPoints: { engine: resolve(ROOT, 'widget/engine/index.ts'), panel: resolve(ROOT, 'widget/panel/index.ts') },
    outdir: outDir,
    format: 'esm',
    splitting: true,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]'
  })
  const entry = (name: string): string => {
    const out = Object.entries(chunks.metafile.outputs).find(([, o]) => o.entryPoint?.endsWith(`widget/${name}/index.ts`))
    if (!out) throw new Error(`build-widget: no output for the ${name} entry`)
    return basename(out[0])
  }
  const launcher = await build({
    ...common,
    entryPoints: [resolve(ROOT, 'widget/launcher/widget.ts')],
    outfile: resolve(outDir, 'widget.js'),
    format: 'iife',
    define: {
      __IM_CHUNKS__: JSON.stringify({ engine: entry('engine'), panel: entry('panel') }),
      __IM_VERSION__: JSON.stringify(version)
    }
  })
  const scripts = new Set([...Object.keys(chunks.metafile.outputs), ...Object.keys(launcher.metafile.outputs)].filter((f) => f.endsWith('.js')).map((f) => basename(f)))
  const files = (await precompress(outDir))
    .filter((f) => scripts.has(f.file))
    .map((f): WidgetFile => ({ ...f, launcher: f.file === 'widget.js' }))
  return files.sort((a, b) => Number(b.launcher) - Number(a.launcher) || a.file.localeCompare(b.file))
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outDir, files } = await buildWidget({ minify: !process.argv.includes('--dev') })
  const total = files.reduce((sum, f) => sum + f.brBytes, 0)
  process.stdout.write(`widget built: ${outDir} (${files.length} scripts, ${(total / 1000).toFixed(1)} KB brotli)\n`)
}
