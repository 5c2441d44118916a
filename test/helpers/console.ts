/**
 * Helpers for the browser tests of the agent console: the bundle built once per test process,
 * a real Chromium (Debian's `/usr/bin/chromium`) driven by playwright-core on a fresh profile,
 * and free ports for a broker that must come back on the same ones.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'

import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { buildConsole } from '../../scripts/build-console.js'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export function haveChromium (): boolean {
  return existsSync(CHROMIUM_PATH)
}

let built: Promise<unknown> | undefined

/** Builds dist/console once for this process, as `npm run build` does (the broker serves it at /console). */
export async function ensureConsoleBuilt (): Promise<void> {
  built ??= buildConsole()
  await built
}

export interface Browser { context: BrowserContext, close (): Promise<void> }

export async function launchChromium (): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'mqtt-im-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    locale: 'en-US',
    viewport: { width: 1280, height: 800 }
  })
  return {
    context,
    async close () {
      await context.close().catch(() => undefined)
      rmSync(profile, { recursive: true, force: true })
    }
  }
}

/** A page that records the errors the console throws or logs, for the test to check. */
export async function newConsolePage (context: BrowserContext): Promise<{ page: Page, errors: string[] }> {
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`))
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`) })
  return { page, errors }
}

