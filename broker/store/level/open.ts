/**
 * The embedded store: one LevelDB (classic-level) under `DATA_DIR/db`, split into sublevels —
 * `mqtt` for aedes' sessions, queues and retained messages, one sublevel per IM store.
 * LevelDB writes its log before it answers, so what was acknowledged survives `kill -9`.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { ClassicLevel } from 'classic-level'

export type RootDb = ClassicLevel<string, string>

export async function openLevel (dataDir: string): Promise<RootDb> {
  ensureWritableDir(dataDir)
  const db = new ClassicLevel<string, string>(join(dataDir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  try {
    await db.open()
  } catch (err) {
    const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message
    const locked = /lock/i.test(cause)
    throw new Error(`Cannot open the embedded store in ${resolve(dataDir)}: ${cause}.${locked ? ' Is another broker using this DATA_DIR?' : ''}`, { cause: err })
  }
  return db
}

/**
 * DATA_DIR exists (or is created) and takes a file; otherwise the start stops here with the
 * path and the system's reason (read-only file system, permission denied, not a directory…),
 * instead of a puzzling error from deeper down.
 */
export function ensureWritableDir (dataDir: string): void {
  const where = resolve(dataDir)
  const probe = join(where, `.write-test-${randomBytes(4).toString('hex')}`)
  try {
    makeDirs(where)
    writeFileSync(probe, '')
    rmSync(probe)
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException
    const reason = describe(code)
    throw new Error(`DATA_DIR ${where} is not writable (${reason ? `${code}: ${reason}` : message}). Point DATA_DIR at a writable directory.`, { cause: err })
  }
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdir reports ENOENT when the real reason is
 * a read-only file system or a missing permission, which is the error an operator needs.
 */
function makeDirs (dir: string): void {
  if (existsSync(dir)) return
  const parent = dirname(dir)
  if (parent !== dir) makeDirs(parent)
  try {
    mkdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
}

function describe (code: string | undefined): string | undefined {
  switch (code) {
    case 'EROFS': return 'read-only file system'
    case 'EACCES': case 'EPERM': return 'permission denied'
    case 'ENOTDIR': return 'a part of the path is a file, not a directory'
    case 'ENOSPC': return 'no space left on the device'
    default: return undefined
  }
}
