/**
 * Builds the agent console into `dist/console/`: `console/main.ts` bundled by esbuild (Lit, the
 * client library and MQTT.js' browser build in one ES module), plus `index.html` and
 * `console.css` copied as they are. The broker serves the folder at `/console`.
 *
 *   npm run build:console            (also part of `npm run build` and `npm start`)
 *   tsx scripts/build-console.ts --dev   (no minification)
 */
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'
import { browserBuildOptions, ROOT } from './browser-build.js'

export const CONSOLE_OUT_DIR = resolve(ROOT, 'dist', 'console')
const STATIC_FILES = ['index.html', 'console.css']

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

export interface BuildConsoleOptions { outDir?: string, minify?: boolean }

export async function buildConsole ({ outDir = CONSOLE_OUT_DIR, minify = true }: BuildConsoleOptions = {}): Promise<{ outDir: string, bytes: number }> {
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  const result = await build({
    ...browserBuildOptions(minify),
    entryPoints: [resolve(ROOT, 'console', 'main.ts')],
    outfile: resolve(outDir, 'console.js'),
    format: 'esm',
    plugins: [mqttBrowser]
  })
  for (const file of STATIC_FILES) await copyFile(resolve(ROOT, 'console', file), resolve(outDir, file))
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0)
  return { outDir, bytes }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outDir, bytes } = await buildConsole({ minify: !process.argv.includes('--dev') })
  process.stdout.write(`console built: ${outDir} (${Math.round(bytes / 1024)} KB)\n`)
}
