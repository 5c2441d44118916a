/** Structured JSON logs (pino). One root logger per server; modules take a child named for them. */
import { pino, type Logger } from 'pino'

export type { Logger }

export function createLogger (level: string): Logger {
  return pino({
    level,
    base: { service: 'mqtt-im' },
    // Tokens and passwords never reach the log, whatever a caller passes in.
    redact: { paths: ['password', 'token', 'secret', '*.password', '*.token', '*.secret'], censor: '[redacted]' }
  })
}
