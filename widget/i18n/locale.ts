/**
 * The widget's language: the element's `lang` attribute, else the host page's `<html lang>`, else
 * the browser's preferences. Any `zh*` is Simplified Chinese, anything else English. The widget
 * never changes the host page's `lang`.
 */
import { en } from './en.js'
import type { WidgetTranslation } from './translation.js'
import { zhCN } from './zh-CN.js'

export type { WidgetTranslation } from './translation.js'

export function matchWidgetLocale (preferred: ReadonlyArray<string | null | undefined>): WidgetTranslation {
  for (const tag of preferred) {
    const lower = (tag ?? '').toLowerCase()
    if (lower.startsWith('zh')) return zhCN
    if (lower.startsWith('en')) return en
  }
  return en
}

/** The table for `element`: its own `lang`, the page's, then the browser's. */
export function widgetLocale (element: Element): WidgetTranslation {
  return matchWidgetLocale([element.getAttribute('lang'), document.documentElement.lang, ...navigator.languages])
}
