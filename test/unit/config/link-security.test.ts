import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { insecureLinks } from '../../../broker/config/link-security.js'
import { explainRedisError } from '../../../broker/cluster/redis-errors.js'

const settings = (redis?: string, mongo?: string): Parameters<typeof insecureLinks>[0] => ({
  STORE: mongo === undefined ? 'level' : 'mongodb',
  ...(mongo === undefined ? {} : { MONGO_URL: mongo }),
  ...(redis === undefined ? {} : { CLUSTER_REDIS_URL: redis })
})
/** The first sentence of each warning, up to its colon. */
const messages = (redis?: string, mongo?: string): string[] => insecureLinks(settings(redis, mongo)).map((w) => w.message.split(':')[0]!)

describe('warnings about the links to Redis and MongoDB', () => {
  it('says nothing of a Redis and a MongoDB reached with credentials over TLS', () => {
    assert.deepEqual(insecureLinks(settings('rediss://mqttim:s3cret@redis.internal:6380', 'mongodb://mqtt:s3cret@db1:27017,db2:27017/?replicaSet=rs0&tls=true&authSource=admin')), [])
    assert.deepEqual(insecureLinks(settings('rediss://:s3cret@redis.internal:6380', 'mongodb+srv://mqtt:s3cret@cluster0.example.net/')), [])
    assert.deepEqual(insecureLinks(settings(undefined, 'mongodb://db1/?tls=true&authMechanism=MONGODB-X509')), [])
  })

  it('names a Redis without a password, and one in plain text across a network', () => {
    assert.deepEqual(messages('redis://127.0.0.1:6379'), ['CLUSTER_REDIS_URL has no password'])
    assert.deepEqual(messages('redis://:s3cret@10.0.0.7:6379'), ['CLUSTER_REDIS_URL talks to 10.0.0.7 in plain text'])
    assert.deepEqual(messages('redis://redis:6379'), ['CLUSTER_REDIS_URL has no password', 'CLUSTER_REDIS_URL talks to redis in plain text'])
    assert.deepEqual(messages('redis://:s3cret@localhost:6379'), [], 'plain text on the loopback interface is fine')
  })

  it('names a MongoDB without credentials, and one in plain text across a network, never quoting a password', () => {
    assert.deepEqual(insecureLinks(settings(undefined, 'mongodb://127.0.0.1:27017')).map((w) => w.setting), ['MONGO_URL'])
    const remote = insecureLinks(settings(undefined, 'mongodb://mqtt:p@ss:w0rd@db1:27017,db2:27017/?replicaSet=rs0'))
    assert.equal(remote.length, 1)
    assert.match(remote[0]!.message, /^MONGO_URL talks to db1,db2 in plain text/)
    assert.doesNotMatch(remote[0]!.message, /w0rd/)
    assert.equal(insecureLinks(settings(undefined, 'mongodb://db1:27017/?ssl=false')).length, 2)
    assert.deepEqual(insecureLinks({ STORE: 'level', MONGO_URL: 'mongodb://db1' }), [], 'MONGO_URL unused without STORE=mongodb')
  })
})

describe('what a Redis refusal means', () => {
  it('tells a refused password, a refused ACL command and an untrusted certificate apart', () => {
    assert.match(explainRedisError('WRONGPASS invalid username-password pair or user is disabled.'), /^Redis refused the credentials \(WRONGPASS .*\); CLUSTER_REDIS_URL must carry the password/)
    assert.match(explainRedisError('NOAUTH Authentication required.'), /^Redis refused the credentials \(NOAUTH/)
    assert.match(explainRedisError("NOPERM User mqttim has no permissions to run the 'psubscribe' command"), /^the Redis ACL user may not run what the broker needs/)
    assert.match(explainRedisError('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), /^the TLS certificate of Redis was not accepted \(self-signed certificate\); name the CA .* CLUSTER_REDIS_CA_FILE$/)
    assert.match(explainRedisError("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'), /^the TLS certificate of Redis was not accepted/)
    assert.equal(explainRedisError('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED'), 'connect ECONNREFUSED 127.0.0.1:6379')
  })
})
