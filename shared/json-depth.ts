/**
 * How deeply a JSON text nests, read from the text itself before it is parsed: a payload nested
 * ten thousand levels deep is cheap to send and expensive (or fatal) to parse, copy, store and
 * serialize again. Strings are skipped, so brackets inside them do not count. Runs in Node and
 * the browser. [IM-CMD-1]
 */
export function exceedsJsonDepth (text: string, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
      continue
    }
    if (c === 34) inString = true
    else if (c === 123 || c === 91) { // { [
      if (++depth > maxDepth) return true
    } else if (c === 125 || c === 93) depth-- // } ]
  }
  return false
}
