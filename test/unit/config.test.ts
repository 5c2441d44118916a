import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ConfigError, loadConfig } from '../../broker/config/load.js'
import { tempDataDir } from '../helpers/broker.js'

describe('configuration', () => {
  it('has working defaults and is frozen', () => {
    const config = loadConfig()
    assert.equal(config.MQTT_PORT, 1883)
    assert.equal(config.HTTP_PORT, 8080)
    assert.equal(config.DATA_DIR, './data')
    assert.equal(config.ANONYMOUS_NAMESPACE, '')
    assert.ok(Object.isFrozen(config))
  })

  it('reads environment variables and coerces numbers', () => {
    const config = loadConfig({ env: { MQTT_PORT: '1999', QUEUE_MAX_MESSAGES: '10', UNRELATED: 'x' } })
    assert.equal(config.MQTT_PORT, 1999)
    assert.equal(config.QUEUE_MAX_MESSAGES, 10)
  })

  it('lets the environment override the config file', () => {
    const file = join(tempDataDir(), 'config.json')
    writeFileSync(file, JSON.stringify({ MQTT_PORT: 2000, HTTP_PORT: 2001 }))
    const config = loadConfig({ env: { CONFIG_FILE: file, HTTP_PORT: '3001' } })
    assert.equal(config.MQTT_PORT, 2000)
    assert.equal(config.HTTP_PORT, 3001)
  })

  it('names every bad value in one clear error', () => {
    assert.throws(() => loadConfig({ env: { MQTT_PORT: 'seventy', JWT_SECRET: 'short', LOG_LEVEL: 'loud' } }), (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      assert.match(err.message, /MQTT_PORT/)
      assert.match(err.message, /JWT_SECRET must be at least 32 characters/)
      assert.match(err.message, /LOG_LEVEL/)
      return true
    })
  })

  it('refuses a TLS key without a certificate, unknown keys in the file and a file that is not JSON', () => {
    assert.throws(() => loadConfig({ env: { TLS_KEY_FILE: '/k.pem' } }), /TLS_KEY_FILE and TLS_CERT_FILE must be set together/)
    const dir = tempDataDir()
    writeFileSync(join(dir, 'typo.json'), JSON.stringify({ MQTT_PROT: 1 }))
    assert.throws(() => loadConfig({ file: join(dir, 'typo.json') }), /unknown setting\(s\): MQTT_PROT/)
    writeFileSync(join(dir, 'bad.json'), '{ nope')
    assert.throws(() => loadConfig({ file: join(dir, 'bad.json') }), /is not valid JSON/)
    assert.throws(() => loadConfig({ file: join(dir, 'missing.json') }), /cannot read/)
  })
})
