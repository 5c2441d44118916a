/** For tests of limits counted per fixed minute (the login limit per address). */
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Waits, when the current minute ends within `marginMs`, for the next one to begin: attempts that
 * straddle two minutes may use both minutes' counts, so a test that fills one starts well inside it.
 */
export async function awayFromMinuteEnd (marginMs = 20_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000)
  if (left < marginMs) await sleep(left + 100)
}
