/**
 * Helpers for the browser tests of the agent console: the bundle built once per test process,
 * a real Chromium (Debian's `/usr/bin/chromium`) driven by playwright-core on a fresh profile,
 * and free ports for a broker that must come back on the same ones.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'

import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AxeResults, ElementContext, RunOptions } from 'axe-core'
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


/**
 * Runs axe-core (WCAG 2.x A and AA rules) on the page, shadow roots included, and returns each
 * violation as `rule: target`. Injected through the DevTools protocol, which the console's strict
 * Content-Security-Policy (no inline script) does not apply to.
 */
export async function axeViolations (page: Page, include?: string): Promise<string[]> {
  const axeCore = (await import('axe-core')).default
  await page.evaluate(axeCore.source)
  return await page.evaluate(async (scope) => {
    const axe = (window as unknown as { axe: { run: (context: ElementContext, options: RunOptions) => Promise<AxeResults> } }).axe
    const results = await axe.run(scope === undefined ? document : { include: [[scope]] }, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
    return results.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${JSON.stringify(n.target)} ${n.failureSummary ?? ''}`))
  }, include)
}
