/** What a site sets on the snippet or the element, with the defaults (README "Widget options"). */
export interface WidgetOptions {
  /** the site key the broker's admin created (`data-site` / `site`) */
  site: string
  /** the broker's HTTP origin, e.g. `https://chat.example.com` (default: where widget.js came from) */
  server: string
  /** pre-chat form fields asked before the first message (`data-prechat="name,email"`) */
  prechat: ReadonlyArray<'name' | 'email'>
  /** a site-signed identity token for a signed-in user of the host site */
  identityToken?: string
  /** release the connection after the page was hidden and the visitor idle this long (0: never) */
  idleReleaseMs: number
  /** the language the widget speaks (`en`, `zh-CN`): told to the agent with the chat */
  locale: string
  /** how long a lost connection stays quiet before the "reconnecting…" banner shows */
  bannerDelayMs: number
}

export const DEFAULT_IDLE_RELEASE_MS = 5 * 60_000
export const DEFAULT_BANNER_DELAY_MS = 3000

/** `ws://host/mqtt` or `wss://host/mqtt` for an `http(s)://host` server. */
export function mqttUrlOf (server: string): string {
  const url = new URL('/mqtt', server)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  return url.href
}
