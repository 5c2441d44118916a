/**
 * The network a client address belongs to, for limits that must count one attacker with a whole
 * subnet as one source: an IPv4 address counts as its /24, an IPv6 address as its /56 (the
 * smallest prefix ISPs commonly hand one customer). An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
 * what a dual-stack socket reports) counts as the IPv4 one. Anything else counts as itself.
 * [IM-LIMIT-FAIR]
 */
import { isIPv4, isIPv6 } from 'node:net'

export function addressPrefix (address: string): string {
  const bare = address.replace(/%.*$/, '') // an IPv6 zone id names the local interface, not the peer
  if (isIPv4(bare)) return ipv4Prefix(bare)
  if (!isIPv6(bare)) return address
  const groups = ipv6Groups(bare)
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return ipv4Prefix(`${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`)
  }
  const hex = (n: number): string => n.toString(16)
  return `${hex(groups[0]!)}:${hex(groups[1]!)}:${hex(groups[2]!)}:${hex(groups[3]! & 0xff00)}::/56`
}

function ipv4Prefix (address: string): string {
  return `${address.slice(0, address.lastIndexOf('.'))}.0/24`
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail split in two). */
function ipv6Groups (address: string): number[] {
  const parse = (part: string): number[] => part === ''
    ? []
    : part.split(':').flatMap((g) => {
      if (!g.includes('.')) return [Number.parseInt(g, 16)]
      const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number]
      return [(a << 8) | b, (c << 8) | d]
    })
  const [head = '', tail] = address.split('::')
  const left = parse(head)
  const right = tail === undefined ? [] : parse(tail)
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
}
