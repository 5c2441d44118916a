/**
 * ioredis' own connector (host and port, plain or TLS), with one more `error` listener on each
 * socket it opens. ioredis hears a socket's first error only (`once`); a TLS socket whose
 * handshake failed — Redis' certificate not trusted — goes on to report the server's alert as a
 * second error, which, unheard, would end the process (seen with Debian's redis-server 7.0 and
 * Node 20: "tlsv1 alert decode error"). The first error still reaches ioredis and the broker.
 */
import { createRequire } from 'node:module'
import { AbstractConnector, type StandaloneConnectionOptions } from 'ioredis'
import type { ErrorEmitter } from 'ioredis/built/connectors/AbstractConnector.js'
import type { NetStream } from 'ioredis/built/types.js'

/** ioredis' StandaloneConnector (built/connectors/StandaloneConnector.d.ts) */
declare class _StandaloneConnector extends AbstractConnector {
  constructor (options: StandaloneConnectionOptions)
  connect (onError: ErrorEmitter): Promise<NetStream>
}

// ioredis exports the connector's type but not the class; it is CommonJS, so `require` reaches it.
const { default: StandaloneConnector } = createRequire(import.meta.url)('ioredis/built/connectors/StandaloneConnector.js') as { default: typeof _StandaloneConnector }

export class GuardedConnector extends StandaloneConnector {
  /** ioredis hands every connector its whole options object (`ConnectorConstructor`) */
  constructor (options: unknown) {
    super(options as StandaloneConnectionOptions)
  }

  override async connect (onError: ErrorEmitter): Promise<NetStream> {
    const stream = await super.connect(onError)
    stream.on('error', () => { /* after the first, which ioredis handles: the socket is gone */ })
    return stream
  }
}
