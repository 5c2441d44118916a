/**
 * `npm start`: read the configuration, start every listener, print the URLs a user needs, and
 * shut down cleanly on SIGINT/SIGTERM (clients closed, store flushed and closed).
 */
import { ConfigError, loadConfig } from './config/load.js'
import { createLogger } from './ops/logger.js'
import { startServer } from './server.js'

async function main (): Promise<void> {
  let config
  try {
    config = loadConfig({ env: process.env, file: argValue('--config') ?? process.env.CONFIG_FILE })
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw err
  }
  const log = createLogger(config.LOG_LEVEL)
  const server = await startServer({ config, log })
  log.info({ ports: server.ports, urls: server.urls, store: config.STORE === 'mongodb' ? { kind: 'mongodb', database: config.MONGO_DB } : { kind: 'level', dataDir: config.DATA_DIR } }, 'broker ready')
  if (process.stdout.isTTY) {
    process.stdout.write(`\nmqtt-im is running\n${Object.entries(server.urls).map(([k, v]) => `  ${k.padEnd(10)} ${v}`).join('\n')}\n\n`)
  }

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    server.close().then(() => { log.info('stopped'); process.exit(0) }, (err: unknown) => { log.error({ err }, 'shutdown failed'); process.exit(1) })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

function argValue (flag: string): string | undefined {
  const i = process.argv.indexOf(flag)
  return i >= 0 ? process.argv[i + 1] : undefined
}

main().catch((err: unknown) => {
  process.stderr.write(`mqtt-im failed to start: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
