/**
 * What every browser bundle of the project (the agent console, the chat widget) is built with:
 * esbuild from the project root, for evergreen browsers — decorators and `accessor` fields are
 * lowered (see console/README.md) — with linked source maps and licence files and a metafile.
 */
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
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
