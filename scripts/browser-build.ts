/**
 * What every browser bundle of the project (the agent console, the chat widget) is built with:
 * esbuild from the project root, for evergreen browsers — decorators and `accessor` fields are
 * lowered (see console/README.md) — with linked source maps and licence files and a metafile;
 * every file precompressed beside itself (`.br`, `.gz`) for the broker to send as it is; and the
 * output moved into place file by file, so a broker serving the folder meanwhile never sees a
 * missing or half-written file.
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import type { BuildOptions } from 'esbuild'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export function browserBuildOptions (minify: boolean) {
  return {
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'browser',
    target: ['es2022', 'chrome111', 'firefox113', 'safari16.4'],
    tsconfig: resolve(ROOT, 'tsconfig.json'),
    minify,
    sourcemap: 'linked',
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning'
  } as const satisfies BuildOptions
}

/** A file of a bundle and what it weighs on the wire: raw, and as the broker sends it gzipped and brotli-compressed. */
export interface WireSize { file: string, bytes: number, gzipBytes: number, brBytes: number }

/** The encodings the broker can send, by file suffix (static-files.ts serves these files). */
export const ENCODINGS = [
  { encoding: 'br', suffix: '.br' },
  { encoding: 'gzip', suffix: '.gz' }
] as const

const brotli = promisify(brotliCompress)
const gzipAsync = promisify(gzip)

/** brotli at its best (quality 11, the largest window) and gzip -9: done once per build, not per request. */
export async function compress (content: Buffer): Promise<{ br: Buffer, gzip: Buffer }> {
  const [br, gz] = await Promise.all([
    brotli(content, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
        [constants.BROTLI_PARAM_SIZE_HINT]: content.length
      }
    }),
    gzipAsync(content, { level: 9 })
  ])
  return { br, gzip: gz }
}

const isVariant = (name: string): boolean => ENCODINGS.some((e) => name.endsWith(e.suffix))

/**
 * Writes `<file>.br` and `<file>.gz` beside every file of `dir` — each only when it is smaller
 * than the file (a tiny file may grow) — and answers every file's wire sizes (the raw size where
 * no smaller variant was written, as that is what goes out).
 */
export async function precompress (dir: string): Promise<WireSize[]> {
  const names = (await readdir(dir)).filter((name) => !isVariant(name)).sort()
  return await Promise.all(names.map(async (file): Promise<WireSize> => {
    const content = await readFile(resolve(dir, file))
    const { br, gzip: gz } = await compress(content)
    const size = { file, bytes: content.length, gzipBytes: content.length, brBytes: content.length }
    if (br.length < content.length) { await writeFile(resolve(dir, `${file}.br`), br); size.brBytes = br.length }
    if (gz.length < content.length) { await writeFile(resolve(dir, `${file}.gz`), gz); size.gzipBytes = gz.length }
    return size
  }))
}

/**
 * Builds into a fresh temporary folder beside `outDir` (`build` writes there), then moves each
 * file into `outDir` — a rename is atomic — and removes what the new build no longer has.
 * Everything else goes first and `entries` (the files a page asks for by a fixed name, e.g.
 * `widget.js`, `index.html`) last, their compressed variants just before them: once a new entry
 * can be fetched, every file it names is there.
 */
export async function buildStaged<T> (outDir: string, entries: readonly string[], build: (stage: string) => Promise<T>): Promise<T> {
  await mkdir(outDir, { recursive: true })
  const stage = await mkdtemp(`${outDir}.build-`)
  try {
    const result = await build(stage)
    const rank = (name: string): number => {
      const base = ENCODINGS.reduce((n, e) => n.endsWith(e.suffix) ? n.slice(0, -e.suffix.length) : n, name)
      return entries.includes(base) ? (base === name ? 2 : 1) : 0
    }
    const fresh = (await readdir(stage)).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    for (const name of fresh) await rename(resolve(stage, name), resolve(outDir, name))
    const kept = new Set(fresh)
    for (const name of await readdir(outDir)) if (!kept.has(name)) await rm(resolve(outDir, name), { recursive: true, force: true })
    return result
  } finally {
    await rm(stage, { recursive: true, force: true })
  }
}
