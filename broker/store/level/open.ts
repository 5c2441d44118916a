/**
 * The embedded store: one LevelDB (classic-level) under `DATA_DIR/db`, split into sublevels —
 * `mqtt` for aedes' sessions, queues and retained messages, one sublevel per IM store.
 * LevelDB writes its log before it answers, so what was acknowledged survives `kill -9`.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'

export type RootDb = ClassicLevel<string, string>

export async function openLevel (dataDir: string): Promise<RootDb> {
  mkdirSync(dataDir, { recursive: true })
  const db = new ClassicLevel<string, string>(join(dataDir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  try {
    await db.open()
  } catch (err) {
    const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message
    throw new Error(`Cannot open the embedded store in ${dataDir}: ${cause}. Is another broker using this DATA_DIR?`, { cause: err })
  }
  return db
}
