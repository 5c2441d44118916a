/**
 * The widget's corner of the host page's localStorage, one namespace per site key, shared by every
 * tab of the site. Storage may be off (private mode, blocked cookies): then everything still works
 * for the page's lifetime, only continuity across page loads is lost.
 */
/** true while this browser has a support chat open on the site (the launcher connects early then) */
export const ACTIVE_CHAT_KEY = 'active'

export class SiteStorage {
  readonly #prefix: string

  constructor (site: string) {
    this.#prefix = `im-chat:${site}:`
  }

  get<T> (key: string): T | undefined {
    try {
      const raw = localStorage.getItem(this.#prefix + key)
      return raw === null ? undefined : JSON.parse(raw) as T
    } catch {
      return undefined
    }
  }

  set (key: string, value: unknown): void {
    try { localStorage.setItem(this.#prefix + key, JSON.stringify(value)) } catch { /* storage off or full */ }
  }

  remove (key: string): void {
    try { localStorage.removeItem(this.#prefix + key) } catch { /* storage off */ }
  }

  /** Forgets everything of this site (the host page's `ImChat.shutdown()`). */
  clear (): void {
    try {
      for (let i = localStorage.length - 1; i >= 0; i--) {
        const key = localStorage.key(i)
        if (key?.startsWith(this.#prefix)) localStorage.removeItem(key)
      }
    } catch { /* storage off */ }
  }
}
