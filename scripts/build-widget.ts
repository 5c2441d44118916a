/**
 * Builds the chat widget into `dist/widget/`, in two parts so the host page loads little:
 *
 * - `widget.js`: the launcher (plain DOM, no Lit) as a classic script — the one file a site's
 *   snippet loads. It knows the hashed names of the chunks below and imports them when needed.
 * - `engine-<hash>.js` (the visitor session, the client library, the minimal MQTT client) and
 *   `panel-<hash>.js` (Lit and the chat UI), ES modules with shared chunks, loaded on open, or the
 *   engine alone at idle time when a chat is going on. Hashed names can be cached for good.
 *
 *   npm run build:widget                 (also part of `npm run build` and `npm start`)
 *   tsx scripts/build-widget.ts --dev    (no minification)
 *
 * `scripts/widget-size.ts` measures the result against the budgets.
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { browserBuildOptions, ROOT } from './browser-build.js'

export const WIDGET_OUT_DIR = resolve(ROOT, 'dist', 'widget')

export interface WidgetFile { file: string, bytes: number, gzipBytes: number, launcher: boolean }
export interface WidgetBuild { outDir: string, files: WidgetFile[] }

/**
 * Builds into a fresh temporary folder, then moves each file into `outDir` (a rename is atomic) and
 * removes what the new build no longer has: a broker serving `outDir` meanwhile — another test
 * process building at the same time — never sees a missing or half-written file.
 */
export async function buildWidget ({ outDir = WIDGET_OUT_DIR, minify = true }: { outDir?: string, minify?: boolean } = {}): Promise<WidgetBuild> {
  await mkdir(outDir, { recursive: true })
  const stage = await mkdtemp(`${outDir}.build-`)
  try {
    const files = await buildInto(stage, minify)
    const fresh = new Set(await readdir(stage))
    for (const name of fresh) await rename(resolve(stage, name), resolve(outDir, name))
    for (const name of await readdir(outDir)) if (!fresh.has(name)) await rm(resolve(outDir, name), { recursive: true, force: true })
    return { outDir, files }
  } finally {
    await rm(stage, { recursive: true, force: true })
  }
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
  const outputs = [...Object.keys(chunks.metafile.outputs), ...Object.keys(launcher.metafile.outputs)].filter((f) => f.endsWith('.js'))
  const files = await Promise.all(outputs.map(async (rel): Promise<WidgetFile> => {
    const content = await readFile(resolve(ROOT, rel))
    return { file: basename(rel), bytes: content.length, gzipBytes: gzipSync(content, { level: 9 }).length, launcher: basename(rel) === 'widget.js' }
  }))
  return files.sort((a, b) => Number(b.launcher) - Number(a.launcher) || a.file.localeCompare(b.file))
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outDir, files } = await buildWidget({ minify: !process.argv.includes('--dev') })
  const total = files.reduce((sum, f) => sum + f.gzipBytes, 0)
  process.stdout.write(`widget built: ${outDir} (${files.length} scripts, ${(total / 1000).toFixed(1)} KB gzipped)\n`)
}
