/**
 * Serving a built bundle folder (the agent console, the chat widget) safely: only regular files
 * inside the folder (no `..`, no hidden files, no absolute paths, no symlinks out), only known
 * file types, with the headers the caller adds.
 */
import { readFile, realpath, stat } from 'node:fs/promises'
import { basename, dirname, extname, isAbsolute, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyReply } from 'fastify'
import { ImError } from '../../shared/errors.js'

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8'
}

/**
 * `dist/<name>` of the project, whether the broker runs from source (`broker/http`, via tsx) or
 * compiled (`dist/broker/http`).
 */
export function distDir (name: string): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const up2 = resolve(here, '..', '..')
  const root = basename(up2) === 'dist' ? dirname(up2) : up2
  return resolve(root, 'dist', name)
}

/** Sends `requested` (a path relative to `root`) or throws `IM_ERR_NOT_FOUND` with `missing` as the message. */
export async function sendBundleFile (reply: FastifyReply, root: string, requested: string, headers: Record<string, string>, missing?: string): Promise<FastifyReply> {
  const file = await insideBundle(resolve(root), requested)
  const type = file ? TYPES[extname(file).toLowerCase()] : undefined
  if (!file || !type) throw new ImError('IM_ERR_NOT_FOUND', missing)
  for (const [name, value] of Object.entries(headers)) reply.header(name, value)
  return await reply.header('x-content-type-options', 'nosniff').type(type).send(await readFile(file))
}

/** The real path of `requested` when it is a regular file inside `root`; undefined otherwise. */
async function insideBundle (root: string, requested: string): Promise<string | undefined> {
  if (requested.includes('\0') || requested.includes('\\') || isAbsolute(requested)) return undefined
  if (requested.split('/').some((part) => part === '..' || part.startsWith('.'))) return undefined
  try {
    const realRoot = await realpath(root)
    const real = await realpath(resolve(realRoot, requested))
    const rel = relative(realRoot, real)
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) return undefined
    return (await stat(real)).isFile() ? real : undefined
  } catch {
    return undefined
  }
}
