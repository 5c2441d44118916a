/**
 * The address a connection comes from, for per-address limits and logs. Behind a reverse proxy
 * (nginx in front of the WebSocket port) every connection comes from the proxy; `TRUST_PROXY`
 * says which proxies' `X-Forwarded-For` to believe, with fastify's semantics for HTTP: `true`
 * (any), a hop count, or a list of addresses/CIDRs. Empty (the default): none.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import proxyaddr from '@fastify/proxy-addr'

export type TrustProxy = boolean | number | string[]

export function parseTrustProxy (value: string): TrustProxy {
  const trimmed = value.trim()
  if (trimmed === '' || trimmed === 'false') return false
  if (trimmed === 'true') return true
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  return trimmed.split(',').map((a) => a.trim()).filter((a) => a !== '')
}

/** A trust function for proxy-addr (fastify builds the same one for HTTP requests). */
export function compileTrust (trust: TrustProxy): (address: string, hop: number) => boolean {
  if (trust === true) return () => true
  if (trust === false) return () => false
  if (typeof trust === 'number') return (_address, hop) => hop < trust
  return proxyaddr.compile(trust)
}

/** The client's address: the socket's peer, or what a trusted proxy forwarded. */
export function requestAddress (request: IncomingMessage, trust: (address: string, hop: number) => boolean): string {
  return proxyaddr(request, trust)
}

const addresses = new WeakMap<Duplex, string>()

/** Remembers where the stream handed to aedes (the guarded connection) comes from. */
export function rememberAddress (stream: Duplex, address: string | undefined): void {
  if (address) addresses.set(stream, address)
}

export function addressOf (stream: unknown): string | undefined {
  return typeof stream === 'object' && stream !== null ? addresses.get(stream as Duplex) : undefined
}
