/**
 * The widget's language: the element's `lang` attribute, else the host page's `<html lang>`, else
 * the browser's preferences, picked as everywhere (shared/language.ts). The widget
 * never changes the host page's `lang`.
 */
import { pickLanguage, type Language } from '../../shared/language.js'
import { en } from './en.js'
import type { WidgetTranslation } from './translation.js'
import { zhCN } from './zh-CN.js'

export type { WidgetTranslation } from './translation.js'

const TABLES = { en, 'zh-CN': zhCN } as const satisfies Record<Language, WidgetTranslation>

export function matchWidgetLocale (preferred: ReadonlyArray<string | null | undefined>): WidgetTranslation {
  return TABLES[pickLanguage(preferred)]
}

/** The table for `element`: its own `lang`, the page's, then the browser's. */
export function widgetLocale (element: Element): WidgetTranslation {
  return matchWidgetLocale([element.getAttribute('lang'), document.documentElement.lang, ...navigator.languages])
}
