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

  it('asks STORE=mongodb for a MongoDB URL and a JWT secret every node shares, and checks the database name', () => {
    const secret = 'x'.repeat(32)
    assert.equal(loadConfig({ env: {} }).STORE, 'level')
    assert.throws(() => loadConfig({ env: { STORE: 'mongodb', JWT_SECRET: secret } }), /STORE=mongodb needs MONGO_URL/)
    assert.throws(() => loadConfig({ env: { STORE: 'mongodb', MONGO_URL: 'mongodb://127.0.0.1:27017' } }), /STORE=mongodb needs JWT_SECRET, the same on every broker node/)
    assert.throws(() => loadConfig({ env: { STORE: 'mongodb', MONGO_URL: 'http://127.0.0.1', JWT_SECRET: secret } }), /MONGO_URL must be a mongodb:\/\//)
    assert.throws(() => loadConfig({ env: { STORE: 'mongodb', MONGO_URL: 'mongodb://h', MONGO_DB: 'a.b', JWT_SECRET: secret } }), /MONGO_DB must be a MongoDB database name/)
    assert.throws(() => loadConfig({ env: { STORE: 'postgres' } }), /STORE/)
    const config = loadConfig({ env: { STORE: 'mongodb', MONGO_URL: 'mongodb+srv://u:p@cluster.example', JWT_SECRET: secret } })
    assert.deepEqual([config.STORE, config.MONGO_DB], ['mongodb', 'mqtt_im'])
  })

  it('takes CLUSTER_REDIS_URL only with STORE=mongodb, and only a redis:// or rediss:// URL', () => {
    const mongo = { STORE: 'mongodb', MONGO_URL: 'mongodb://127.0.0.1:27017', JWT_SECRET: 'x'.repeat(32) }
    assert.equal(loadConfig({ env: mongo }).CLUSTER_REDIS_URL, undefined)
    assert.equal(loadConfig({ env: { ...mongo, CLUSTER_REDIS_URL: 'redis://:pw@redis.internal:6379/0' } }).CLUSTER_REDIS_URL, 'redis://:pw@redis.internal:6379/0')
    assert.equal(loadConfig({ env: { ...mongo, CLUSTER_REDIS_URL: 'rediss://redis.internal' } }).CLUSTER_REDIS_URL, 'rediss://redis.internal')
    assert.throws(() => loadConfig({ env: { CLUSTER_REDIS_URL: 'redis://127.0.0.1:6379' } }), /CLUSTER_REDIS_URL: CLUSTER_REDIS_URL needs STORE=mongodb/)
    assert.throws(() => loadConfig({ env: { STORE: 'level', CLUSTER_REDIS_URL: 'redis://127.0.0.1:6379' } }), /needs STORE=mongodb/)
    for (const bad of ['http://127.0.0.1:6379', '127.0.0.1:6379', 'redis://', 'redis:']) {
      assert.throws(() => loadConfig({ env: { ...mongo, CLUSTER_REDIS_URL: bad } }), /CLUSTER_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/, bad)
    }
    // the refusal never repeats the value: it may hold a password
    assert.throws(() => loadConfig({ env: { ...mongo, CLUSTER_REDIS_URL: 'http://:s3cret@h' } }), (err: unknown) => err instanceof ConfigError && !err.message.includes('s3cret'))
  })

  it('takes CLUSTER_REDIS_CA_FILE only for a rediss:// URL', () => {
    const mongo = { STORE: 'mongodb', MONGO_URL: 'mongodb://127.0.0.1:27017', JWT_SECRET: 'x'.repeat(32) }
    assert.equal(loadConfig({ env: { ...mongo, CLUSTER_REDIS_URL: 'rediss://:s3cret@redis:6380', CLUSTER_REDIS_CA_FILE: '/etc/mqtt-im/ca.crt' } }).CLUSTER_REDIS_CA_FILE, '/etc/mqtt-im/ca.crt')
    assert.throws(() => loadConfig({ env: { ...mongo, CLUSTER_REDIS_URL: 'redis://:s3cret@redis:6379', CLUSTER_REDIS_CA_FILE: '/etc/mqtt-im/ca.crt' } }), /CLUSTER_REDIS_CA_FILE is for a TLS connection to Redis: CLUSTER_REDIS_URL must start with rediss:\/\//)
    assert.throws(() => loadConfig({ env: { CLUSTER_REDIS_CA_FILE: '/etc/mqtt-im/ca.crt' } }), /must start with rediss:\/\//)
  })

  it('keeps the metrics listener on this machine unless METRICS_TOKEN guards it [IM-HTTP-3]', () => {
    const defaults = loadConfig({ env: {} })
    assert.equal(defaults.METRICS_HOST, '127.0.0.1')
    assert.equal(defaults.METRICS_PORT, 9464)
    for (const host of ['0.0.0.0', '::', '10.0.0.11']) {
      assert.throws(() => loadConfig({ env: { METRICS_HOST: host } }), /METRICS_HOST other than a loopback address .* needs METRICS_TOKEN/, host)
    }
    assert.equal(loadConfig({ env: { METRICS_HOST: '0.0.0.0', METRICS_TOKEN: 'metrics-token-0123456789' } }).METRICS_HOST, '0.0.0.0')
    assert.equal(loadConfig({ env: { METRICS_HOST: '::1' } }).METRICS_HOST, '::1')
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
