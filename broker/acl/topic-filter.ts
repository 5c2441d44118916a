/**
 * MQTT topic-filter arithmetic used by the ACL: does a filter match a topic, does a rule
 * pattern cover (contain) a whole subscription filter.
 */

/**
 * [MQTT-4.7.1-2], [MQTT-4.7.1-3]: `#` only last and alone in its level, `+` alone in its level;
 * [MQTT-1.5.3-2] no U+0000 (the packet guard's placeholders for too-deep filters hold one).
 */
export function isValidFilter (filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false
  const levels = filter.split('/')
  return levels.every((level, i) => {
    if (level.includes('#')) return level === '#' && i === levels.length - 1
    if (level.includes('+')) return level === '+'
    return true
  })
}

/**
 * Does `filter` match the concrete `topic`? [MQTT-4.7.2-1]: a filter starting with a wildcard
 * never matches `$` topics. Walks both strings level by level without splitting them: it runs
 * for every delivery (ACL, granted QoS), so it allocates nothing. [IM-PERF-4]
 */
export function matches (filter: string, topic: string): boolean {
  const first = filter.charCodeAt(0)
  if (topic.charCodeAt(0) === DOLLAR && (first === PLUS || first === HASH)) return false
  let f = 0
  let t = 0
  for (;;) {
    const fEnd = levelEnd(filter, f)
    if (fEnd - f === 1 && filter.charCodeAt(f) === HASH) return true // `#`: this level and every one below
    if (t > topic.length) return false // the topic has no level left here
    const tEnd = levelEnd(topic, t)
    const plus = fEnd - f === 1 && filter.charCodeAt(f) === PLUS
    if (!plus && !sameLevel(filter, f, fEnd, topic, t, tEnd)) return false
    if (fEnd >= filter.length) return tEnd >= topic.length
    f = fEnd + 1
    t = tEnd + 1
  }
}

const PLUS = 43
const HASH = 35
const DOLLAR = 36

function sameLevel (a: string, aFrom: number, aEnd: number, b: string, bFrom: number, bEnd: number): boolean {
  if (aEnd - aFrom !== bEnd - bFrom) return false
  for (let i = 0; i < aEnd - aFrom; i++) if (a.charCodeAt(aFrom + i) !== b.charCodeAt(bFrom + i)) return false
  return true
}

/** Where the level that starts at `from` ends (the index of its `/`, or the string's length). */
function levelEnd (s: string, from: number): number {
  const slash = s.indexOf('/', from)
  return slash === -1 ? s.length : slash
}

/**
 * Does rule `pattern` cover every topic that subscription `filter` can match?
 * `a/#` covers `a/b/+`; `a/+` covers `a/b` but not `a/#`.
 */
export function covers (pattern: string, filter: string): boolean {
  if (filter.startsWith('$') && (pattern.startsWith('+') || pattern.startsWith('#'))) return false
  const p = pattern.split('/')
  const f = filter.split('/')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return true
    if (i >= f.length) return false
    if (f[i] === '#') return false
    if (p[i] === '+') continue
    if (p[i] !== f[i]) return false
  }
  return p.length === f.length
}
