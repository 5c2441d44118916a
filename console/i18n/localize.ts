/**
 * The console's current language: picked from the browser (`navigator.languages`), or the one the
 * agent chose last (kept in localStorage), switchable at run time. Components follow it through
 * `LocalizeController`.
 */
import { pickLanguage } from '../../shared/language.js'
import { en } from './en.js'
import type { Translation } from './translation.js'
import { zhCN } from './zh-CN.js'

export type { Translation } from './translation.js'

const TABLES = { en, 'zh-CN': zhCN } as const satisfies Record<string, Translation>
export type LocaleCode = keyof typeof TABLES
export const LOCALES = Object.keys(TABLES) as LocaleCode[]
const STORAGE_KEY = 'imc-locale'

export function isLocaleCode (value: unknown): value is LocaleCode {
  return typeof value === 'string' && Object.hasOwn(TABLES, value)
}

/** The first supported language among the browser's preferences: any `zh*` → zh-CN, else English. */
export function matchLocale (preferred: readonly string[]): LocaleCode {
  return pickLanguage(preferred)
}

export function translation (code: LocaleCode): Translation {
  return TABLES[code]
}

type Listener = (code: LocaleCode) => void

class LocaleState {
  #code: LocaleCode
  readonly #listeners = new Set<Listener>()

  constructor () {
    const stored = readStored()
    this.#code = stored ?? matchLocale(typeof navigator === 'undefined' ? [] : navigator.languages)
    applyToDocument(this.#code)
  }

  get code (): LocaleCode { return this.#code }

  get t (): Translation { return TABLES[this.#code] }

  set (code: LocaleCode): void {
    if (code === this.#code) return
    this.#code = code
    try { localStorage.setItem(STORAGE_KEY, code) } catch { /* storage may be off */ }
    applyToDocument(code)
    for (const listener of this.#listeners) listener(code)
  }

  subscribe (listener: Listener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }
}

function readStored (): LocaleCode | undefined {
  try {
    const value = localStorage.getItem(STORAGE_KEY)
    return isLocaleCode(value) ? value : undefined
  } catch {
    return undefined
  }
}

function applyToDocument (code: LocaleCode): void {
  if (typeof document !== 'undefined') document.documentElement.lang = code
}

/** The one locale state of the page. */
export const locale = new LocaleState()
