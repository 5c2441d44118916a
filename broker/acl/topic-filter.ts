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

/** Does `filter` match the concrete `topic`? [MQTT-4.7.2-1]: a filter starting with a wildcard never matches `$` topics. */
export function matches (filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
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
