/**
 * One MQTT client id per open tab, stable across reloads, never held by two live tabs at once.
 *
 * A persistent session is found again by its client id, so a tab that reloads should come back
 * with the same one; but two tabs with the same id would take the session from each other in a
 * loop (the broker closes the older connection [MQTT-3.1.4-2]). Each tab therefore holds a Web
 * Lock on the lowest free slot number while it lives: the first tab is slot 0, a second one slot 1,
 * and a reloaded tab gets its slot back. So a visitor has as many sessions on the broker as tabs
 * open at once, not one per page load. Without Web Locks (insecure origins), a random slot kept in
 * sessionStorage does (a reload keeps it; a duplicated tab may share it for a moment).
 */
const MAX_SLOTS = 16

export interface TabSlot { index: number, release (): void }

export async function claimTabSlot (site: string): Promise<TabSlot> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined
  if (locks) {
    for (let index = 0; index < MAX_SLOTS; index++) {
      const held = await holdIfFree(locks, `im-chat:${site}:tab:${index}`)
      if (held) return { index, release: held }
    }
  }
  return fallbackSlot(site)
}

/** Holds the lock until the returned function is called; undefined when another tab holds it. */
async function holdIfFree (locks: LockManager, name: string): Promise<(() => void) | undefined> {
  return await new Promise((resolve) => {
    locks.request(name, { ifAvailable: true }, async (lock) => {
      if (!lock) { resolve(undefined); return }
      await new Promise<void>((release) => { resolve(release) })
    }).catch(() => { resolve(undefined) })
  })
}

function fallbackSlot (site: string): TabSlot {
  const key = `im-chat:${site}:tab`
  let index: number
  try {
    index = Number(sessionStorage.getItem(key) ?? NaN)
    if (!Number.isInteger(index)) {
      index = MAX_SLOTS + Math.floor(Math.random() * 1_000_000)
      sessionStorage.setItem(key, String(index))
    }
  } catch {
    index = MAX_SLOTS + Math.floor(Math.random() * 1_000_000)
  }
  return { index, release: () => undefined }
}
