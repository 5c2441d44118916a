/**
 * Builds the agent console into `dist/console/`, in two parts so the sign-in page loads little:
 *
 * - `console-<hash>.js` (from `console/main.ts`) and the chunks it imports: Lit, the sign-in page,
 *   the language tables — the first load.
 * - `agent-desk-<hash>.js` and its chunks: the desk, the client library and MQTT.js' browser
 *   build, imported by `<imc-console-app>` once the agent has a session.
 *
 * ES modules with code splitting (esbuild `splitting`); `console.css` is copied as
 * `console-<hash>.css`, and `index.html` is rewritten to name both hashed files (and to preload the
 * first load's chunks). Hashed names can be cached for good; `index.html` is revalidated. Every
 * file is precompressed beside itself (`.br`, `.gz`; see browser-build.ts). The broker serves the
 * folder at `/console`.
 *
 *   npm run build:console            (also part of `npm run build` and `npm start`)
 *   tsx scripts/build-console.ts --dev   (no minification)
 */
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Metafile, type Plugin } from 'esbuild'
import { browserBuildOptions, buildStaged, precompress, ROOT, type WireSize } from './browser-build.js'

export const CONSOLE_OUT_DIR = resolve(ROOT, 'dist', 'console')

/**
 * MQTT.js' browser build (`mqtt/dist/mqtt.esm.js`, chosen through its `browser` export) has only
 * a default export; the client library imports `{ connect }` from 'mqtt' as in Node. This maps
 * the named import onto the default one.
 */
const mqttBrowser: Plugin = {
  name: 'mqtt-browser',
  setup (b) {
    b.onResolve({ filter: /^mqtt$/ }, () => ({ path: 'mqtt', namespace: 'mqtt-browser' }))
    b.onLoad({ filter: /.*/, namespace: 'mqtt-browser' }, () => ({
      contents: "import mqtt from 'mqtt/dist/mqtt.esm'\nexport const connect = mqtt.connect\nexport default mqtt\n",
      resolveDir: ROOT,
      loader: 'js'
    }))
  }
}

/** A file the page loads, its weight, and whether the sign-in page loads it (`firstLoad`) or only the desk. */
export interface ConsoleFile extends WireSize { firstLoad: boolean }
export interface ConsoleBuild { outDir: string, files: ConsoleFile[] }
export interface BuildConsoleOptions { outDir?: string, minify?: boolean }

export async function buildConsole ({ outDir = CONSOLE_OUT_DIR, minify = true }: BuildConsoleOptions = {}): Promise<ConsoleBuild> {
  const files = await buildStaged(outDir, ['index.html'], async (stage) => await buildInto(stage, minify))
  return { outDir, files }
}

async function buildInto (outDir: string, minify: boolean): Promise<ConsoleFile[]> {
  const result = await build({
    ...browserBuildOptions(minify),
    entryPoints: { console: resolve(ROOT, 'console', 'main.ts') },
    outdir: outDir,
    format: 'esm',
    splitting: true,
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    plugins: [mqttBrowser]
  })
  const { entry, firstLoad, desk } = loadOrder(result.metafile)
  const css = await readFile(resolve(ROOT, 'console', 'console.css'))
  const cssName = `console-${createHash('sha256').update(css).digest('hex').slice(0, 8).toUpperCase()}.css`
  await writeFile(resolve(outDir, cssName), css)
  await writeFile(resolve(outDir, 'index.html'), indexHtml(await readFile(resolve(ROOT, 'console', 'index.html'), 'utf8'), entry, cssName, firstLoad.filter((f) => f !== entry)))

  const loaded = new Set(['index.html', cssName, ...firstLoad])
  const later = new Set(desk)
  return (await precompress(outDir))
    .filter((f) => loaded.has(f.file) || later.has(f.file))
    .map((f): ConsoleFile => ({ ...f, firstLoad: loaded.has(f.file) }))
    .sort((a, b) => Number(b.firstLoad) - Number(a.firstLoad) || a.file.localeCompare(b.file))
}

/**
 * From esbuild's metafile: the entry's script, every script the first load fetches (the entry and
 * what it imports statically, transitively), and what comes only through `import()` — the desk.
 */
function loadOrder (metafile: Metafile): { entry: string, firstLoad: string[], desk: string[] } {
  const outputs = metafile.outputs
  const entryPath = Object.keys(outputs).find((path) => outputs[path]?.entryPoint?.endsWith('console/main.ts'))
  if (!entryPath) throw new Error('build-console: no output for console/main.ts')
  const closure = (roots: readonly string[], kinds: ReadonlySet<string>): Set<string> => {
    const seen = new Set<string>()
    const visit = (path: string): void => {
      if (seen.has(path)) return
      seen.add(path)
      for (const i of outputs[path]?.imports ?? []) if (!i.external && kinds.has(i.kind)) visit(i.path)
    }
    for (const root of roots) visit(root)
    return seen
  }
  const statics = closure([entryPath], new Set(['import-statement']))
  const everything = closure([entryPath], new Set(['import-statement', 'dynamic-import']))
  return {
    entry: basename(entryPath),
    firstLoad: [...statics].map((p) => basename(p)),
    desk: [...everything].filter((p) => !statics.has(p)).map((p) => basename(p))
  }
}

/** index.html naming the hashed script and style sheet, with the first load's other chunks preloaded. */
function indexHtml (html: string, entry: string, css: string, chunks: readonly string[]): string {
  const script = '<script type="module" src="/console/console.js"></script>'
  const style = '<link rel="stylesheet" href="/console/console.css">'
  if (!html.includes(script) || !html.includes(style)) throw new Error('build-console: console/index.html no longer names /console/console.js and /console/console.css')
  const preloads = chunks.map((chunk) => `<link rel="modulepreload" href="/console/${chunk}">\n  `).join('')
  return html
    .replace(style, `<link rel="stylesheet" href="/console/${css}">`)
    .replace(script, `${preloads}<script type="module" src="/console/${entry}"></script>`)
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outDir, files } = await buildConsole({ minify: !process.argv.includes('--dev') })
  const kb = (list: readonly ConsoleFile[]): string => `${(list.reduce((sum, f) => sum + f.brBytes, 0) / 1000).toFixed(1)} KB`
  process.stdout.write(`console built: ${outDir} (first load ${kb(files.filter((f) => f.firstLoad))} brotli, the desk ${kb(files.filter((f) => !f.firstLoad))} more)\n`)
}
