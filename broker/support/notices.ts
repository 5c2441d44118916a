/** The short texts a visitor sees from the server, in English and Simplified Chinese. [IM-SUPPORT-NOTICE] */
import { pickLanguage, type Language } from '../../shared/language.js'
import type { NoticeEvent } from '../../shared/protocol.js'

type Code = NoticeEvent['code']

const TEXTS: Record<Language, Record<Code, string>> = {
  en: {
    queued: 'Thanks for your message. An agent will join shortly.',
    offline: 'No agent is available right now. Leave your message here and we will answer as soon as we can.',
    assigned: 'An agent has joined the chat.'
  },
  'zh-CN': {
    queued: '感谢您的留言，客服人员马上就来。',
    offline: '目前没有客服在线。请在此留言，我们会尽快回复您。',
    assigned: '客服人员已加入对话。'
  }
}

export function noticeText (code: Code, locale: string | undefined): string {
  return TEXTS[pickLanguage([locale])][code]
}
