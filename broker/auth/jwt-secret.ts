/**
 * The HMAC key for access tokens: `JWT_SECRET` when configured, otherwise a random key generated
 * once and kept in `DATA_DIR/jwt-secret` (mode 0600), so tokens stay valid across restarts.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export function resolveJwtSecret (configured: string | undefined, dataDir: string): Uint8Array {
  if (configured) return new TextEncoder().encode(configured)
  const file = join(dataDir, 'jwt-secret')
  try {
    return new TextEncoder().encode(readFileSync(file, 'utf8').trim())
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  // 'wx' fails if another process created it meanwhile; then that one's key is the key.
  try {
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return new TextEncoder().encode(readFileSync(file, 'utf8').trim())
    throw err
  }
  return new TextEncoder().encode(secret)
}
