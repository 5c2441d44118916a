/**
 * `npm start` with a DATA_DIR it cannot write stops at once with a message naming the directory
 * and the system's reason. The read-only case is a real read-only file system (a tmpfs mounted
 * `ro`, which needs root; otherwise a directory without write permission).
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ADMIN_PASSWORD, JWT_SECRET, tempDataDir } from '../helpers/broker.js'

/** Runs broker/main.ts and resolves with its exit code and stderr (it must exit by itself). */
async function startExpectingFailure (dataDir: string): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts'], {
    env: { ...process.env, HOST: '127.0.0.1', MQTT_PORT: '0', HTTP_PORT: '0', METRICS_PORT: '0', ADMIN_PASSWORD, JWT_SECRET, LOG_LEVEL: 'silent', DATA_DIR: dataDir },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stderr }
}

describe('start-up with an unusable DATA_DIR', () => {
  const base = tempDataDir()
  const readOnly = join(base, 'ro')
  let mounted = false

  before(() => {
    mkdirSync(readOnly)
    const isRoot = process.getuid?.() === 0
    if (isRoot) mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', readOnly]).status === 0
    if (!mounted) chmodSync(readOnly, 0o555)
  })
  after(() => {
    if (mounted) spawnSync('umount', [readOnly])
    chmodSync(readOnly, 0o755)
    rmSync(base, { recursive: true, force: true })
  })

  it('names the directory and says it is read-only (or not writable)', async (t) => {
    if (!mounted && process.getuid?.() === 0) {
      t.skip('root may write anywhere and cannot mount a read-only tmpfs in this environment')
      return
    }
    const { code, stderr } = await startExpectingFailure(join(readOnly, 'data'))
    assert.equal(code, 1)
    assert.match(stderr, new RegExp(`DATA_DIR ${readOnly.replaceAll('/', '\\/')}/data is not writable`))
    assert.match(stderr, mounted ? /EROFS: read-only file system/ : /EACCES: permission denied/)
    assert.doesNotMatch(stderr, /another broker/)
  })

  it('names the directory when a part of its path is a file', async () => {
    const file = join(base, 'a-file')
    writeFileSync(file, 'not a directory')
    const { code, stderr } = await startExpectingFailure(join(file, 'data'))
    assert.equal(code, 1)
    assert.match(stderr, /is not writable \(ENOTDIR: a part of the path is a file, not a directory\)/)
    assert.match(stderr, /a-file\/data/)
  })
})
