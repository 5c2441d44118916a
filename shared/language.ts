/**
 * The two languages the product speaks, and how one is picked from a list of preferences (BCP 47
 * tags, most preferred first): the first tag that is Chinese (`zh*`, any script or region) gives
 * Simplified Chinese, the first English one English; none of either gives English. The console,
 * the widget and the server's notices all pick this way.
 */
export type Language = 'en' | 'zh-CN'

export function pickLanguage (preferred: ReadonlyArray<string | null | undefined>): Language {
  for (const tag of preferred) {
    const lower = (tag ?? '').toLowerCase()
    if (lower.startsWith('zh')) return 'zh-CN'
    if (lower.startsWith('en')) return 'en'
  }
  return 'en'
}
