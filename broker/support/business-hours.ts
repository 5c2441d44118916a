/**
 * Business hours, e.g. `mon-fri 09:00-18:00; sat 10:00-14:00` in an IANA time zone. Outside
 * them a visitor who opens a chat is told no agent is available (`offline` notice); the chat
 * waits like any other. Empty means always open. [IM-SUPPORT-HOURS]
 */
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const

interface Window { days: Set<number>, from: number, to: number }

export type OpenCheck = (now: number) => boolean

export function parseBusinessHours (spec: string, timeZone: string): OpenCheck {
  const text = spec.trim().toLowerCase()
  if (text === '') return () => true
  const windows = text.split(';').map((part) => parseWindow(part.trim(), spec))
  const format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
  return (now) => {
    const parts = Object.fromEntries(format.formatToParts(new Date(now)).map((p) => [p.type, p.value]))
    const day = DAYS.indexOf((parts.weekday ?? '').toLowerCase().slice(0, 3) as typeof DAYS[number])
    const minute = Number(parts.hour) * 60 + Number(parts.minute)
    return windows.some((w) => w.days.has(day) && minute >= w.from && minute < w.to)
  }
}

function parseWindow (part: string, spec: string): Window {
  const match = /^([a-z]{3})(?:-([a-z]{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(part)
  const bad = (): never => { throw new Error(`BUSINESS_HOURS: cannot read "${part}" in "${spec}" (expected e.g. "mon-fri 09:00-18:00")`) }
  if (!match) return bad()
  const [, d1, d2, h1, m1, h2, m2] = match
  const start = DAYS.indexOf(d1 as typeof DAYS[number])
  const end = DAYS.indexOf((d2 ?? d1) as typeof DAYS[number])
  if (start < 0 || end < 0) return bad()
  const days = new Set<number>()
  for (let d = start; ; d = (d + 1) % 7) { days.add(d); if (d === end) break }
  const from = Number(h1) * 60 + Number(m1)
  const to = Number(h2) * 60 + Number(m2)
  if (from >= to || to > 24 * 60) return bad()
  return { days, from, to }
}
