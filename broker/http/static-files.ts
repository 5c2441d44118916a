/**
 * Serving a built bundle folder (the agent console, the chat widget) safely: only regular files
 * inside the folder (no `..`, no hidden files, no absolute paths, no symlinks out), only known
 * file types, with the headers the caller adds.
 *
 * What goes over the wire:
 * - **Compression**: the build writes `<file>.br` (brotli, best quality) and `<file>.gz` (gzip -9)
 *   beside each file (scripts/browser-build.ts). The answer is the variant the request's
 *   `Accept-Encoding` prefers (brotli first on a tie), with `Content-Encoding`, else the file as
 *   it is; always `Vary: Accept-Encoding`. Nothing is compressed per request, and a `.br`/`.gz`
 *   file is never served by its own name.
 * - **Validation**: a strong `ETag` from the bytes sent (so each encoding has its own), and `304`
 *   without a body when `If-None-Match` names it — a `no-cache` file is revalidated on every load
 *   for a few hundred bytes of headers.
 */
import { createHash } from 'node:crypto'
import { readFile, realpath, stat } from 'node:fs/promises'
import { basename, dirname, extname, isAbsolute, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyReply, FastifyRequest } from 'fastify'
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

/** The precompressed variants the build writes beside a file, in order of preference (scripts/browser-build.ts `ENCODINGS`). */
const ENCODINGS = [
  { encoding: 'br', suffix: '.br' },
  { encoding: 'gzip', suffix: '.gz' }
] as const
type Encoding = typeof ENCODINGS[number]

/**
 * Sends `requested` (a path relative to `root`), compressed as the request accepts and answered
 * `304` when the request's `If-None-Match` names it, or throws `IM_ERR_NOT_FOUND` with `missing`
 * as the message.
 */
export async function sendBundleFile (request: FastifyRequest, reply: FastifyReply, root: string, requested: string, headers: Record<string, string>, missing?: string): Promise<FastifyReply> {
  const bundle = resolve(root)
  const encoded = ENCODINGS.some((e) => requested.toLowerCase().endsWith(e.suffix))
  const file = encoded ? undefined : await insideBundle(bundle, requested)
  const type = file ? TYPES[extname(file).toLowerCase()] : undefined
  if (!file || !type) throw new ImError('IM_ERR_NOT_FOUND', missing)

  let body: Buffer | undefined
  let encoding: Encoding | undefined
  for (const candidate of acceptedEncodings(request.headers['accept-encoding'])) {
    const variant = await insideBundle(bundle, requested + candidate.suffix)
    body = variant ? await readFile(variant).catch(() => undefined) : undefined
    if (body) { encoding = candidate; break }
  }
  body ??= await readFile(file)

  for (const [name, value] of Object.entries(headers)) reply.header(name, value)
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
  reply.header('x-content-type-options', 'nosniff').header('etag', etag)
  addVary(reply, 'Accept-Encoding')
  if (noneMatch(request.headers['if-none-match'], etag)) return await reply.code(304).send()
  if (encoding) reply.header('content-encoding', encoding.encoding)
  return await reply.type(type).send(body)
}

/**
 * The encodings `Accept-Encoding` allows (RFC 9110 §12.5.3: `q=0` refuses one, `*` stands for
 * any not named), best first, brotli before gzip when they tie. Empty: the file as it is.
 */
function acceptedEncodings (header: string | string[] | undefined): Encoding[] {
  const weights = new Map<string, number>()
  for (const item of (Array.isArray(header) ? header.join(',') : header ?? '').split(',')) {
    const [coding = '', ...params] = item.split(';').map((part) => part.trim().toLowerCase())
    if (coding === '') continue
    const q = params.find((p) => p.startsWith('q='))
    const weight = q === undefined ? 1 : Number(q.slice(2))
    weights.set(coding === 'x-gzip' ? 'gzip' : coding, Number.isFinite(weight) ? weight : 0)
  }
  const weightOf = (coding: string): number => weights.get(coding) ?? weights.get('*') ?? 0
  return ENCODINGS.filter((e) => weightOf(e.encoding) > 0)
    .sort((a, b) => weightOf(b.encoding) - weightOf(a.encoding))
}

/** `If-None-Match` names `etag` (or is `*`), compared weakly as RFC 9110 §13.1.2 asks. */
function noneMatch (header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header.split(',').some((tag) => {
    const t = tag.trim()
    return t === '*' || (t.startsWith('W/') ? t.slice(2) : t) === etag
  })
}

/** Adds `value` to the answer's `Vary` (CORS may have put `Origin` there already). */
function addVary (reply: FastifyReply, value: string): void {
  const current = reply.getHeader('vary')
  const list = (Array.isArray(current) ? current.join(',') : String(current ?? '')).split(',').map((v) => v.trim()).filter((v) => v !== '')
  if (list.includes('*') || list.some((v) => v.toLowerCase() === value.toLowerCase())) return
  reply.header('vary', [...list, value].join(', '))
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
