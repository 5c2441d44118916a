/**
 * The console's DOM events: `imc-*`, kebab-case, one detail type each, `bubbles` and `composed`
 * so they cross shadow roots up to `<imc-agent-desk>` or `<imc-console-app>`, which act on them.
 * (`imc-` keeps them apart from the widget's `im-*` events.)
 */
import type { AgentStatus } from '../shared/protocol.js'
import type { LocaleCode } from './i18n/localize.js'

export interface ConsoleEventMap {
  'imc-login': { uid: string, password: string }
  'imc-logout': undefined
  /** from `<imc-agent-desk>`: the agent signed out (`ended: false`), or the broker ended the session */
  'imc-signed-out': { ended: boolean }
  'imc-status-change': { status: AgentStatus, capacity?: number }
  'imc-select': { cid: string }
  'imc-claim': { cid: string }
  /** the queue's next page, please */
  'imc-queue-more': undefined
  'imc-send': { cid: string, text: string }
  'imc-typing': { cid: string, on: boolean }
  'imc-retry': { cmid: string }
  'imc-transfer-request': { cid: string }
  'imc-transfer': { cid: string, to?: string }
  'imc-close-chat': { cid: string }
  'imc-view-past': { cid: string }
  'imc-close-past': undefined
  'imc-locale-change': { locale: LocaleCode }
  'imc-notify-change': { sound?: boolean, desktop?: boolean }
}

export type ConsoleEventName = keyof ConsoleEventMap

export function emit<K extends ConsoleEventName> (target: EventTarget, name: K, detail: ConsoleEventMap[K]): void {
  target.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }))
}

declare global {
  interface GlobalEventHandlersEventMap {
    'imc-login': CustomEvent<ConsoleEventMap['imc-login']>
    'imc-logout': CustomEvent<ConsoleEventMap['imc-logout']>
    'imc-signed-out': CustomEvent<ConsoleEventMap['imc-signed-out']>
    'imc-status-change': CustomEvent<ConsoleEventMap['imc-status-change']>
    'imc-select': CustomEvent<ConsoleEventMap['imc-select']>
    'imc-claim': CustomEvent<ConsoleEventMap['imc-claim']>
    'imc-queue-more': CustomEvent<ConsoleEventMap['imc-queue-more']>
    'imc-send': CustomEvent<ConsoleEventMap['imc-send']>
    'imc-typing': CustomEvent<ConsoleEventMap['imc-typing']>
    'imc-retry': CustomEvent<ConsoleEventMap['imc-retry']>
    'imc-transfer-request': CustomEvent<ConsoleEventMap['imc-transfer-request']>
    'imc-transfer': CustomEvent<ConsoleEventMap['imc-transfer']>
    'imc-close-chat': CustomEvent<ConsoleEventMap['imc-close-chat']>
    'imc-view-past': CustomEvent<ConsoleEventMap['imc-view-past']>
    'imc-close-past': CustomEvent<ConsoleEventMap['imc-close-past']>
    'imc-locale-change': CustomEvent<ConsoleEventMap['imc-locale-change']>
    'imc-notify-change': CustomEvent<ConsoleEventMap['imc-notify-change']>
  }
}
