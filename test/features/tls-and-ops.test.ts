import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startTestBroker, tempDataDir, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, type Principal } from '../helpers/http.js'
import { collect, connackCode, connectClient, subscribeCodes, waitFor } from '../helpers/mqtt.js'

function selfSigned (dir: string): { key: string, cert: string } {
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' })
  return { key, cert }
}

describe('TLS listeners, health and metrics', () => {
  let broker: TestBroker
  let ca: Buffer
  let alice: Principal

  before(async () => {
    const dataDir = tempDataDir()
    const { key, cert } = selfSigned(dataDir)
    ca = readFileSync(cert)
    broker = await startTestBroker({ TLS_KEY_FILE: key, TLS_CERT_FILE: cert }, dataDir)
    alice = await createUser(broker.httpUrl, await adminToken(broker.httpUrl), 'alice')
  })
  after(async () => { await broker.stop() })

  it('serves MQTT over TLS (mqtts) and over secure WebSocket (wss) with the same auth', async () => {
    const { mqtts, https } = broker.server.ports
    assert.ok(mqtts && https)
    const overTls = await connectClient(`mqtts://127.0.0.1:${mqtts}`, { username: 'alice', password: alice.token, ca })
    const overWss = await connectClient(`wss://127.0.0.1:${https}/mqtt`, { username: 'alice', password: alice.token, ca, clientId: 'alice-wss' })
    const got = collect(overWss)
    assert.deepEqual(await subscribeCodes(overWss, ['im/u/alice/in']), [1])
    await new Promise<void>((resolve) => broker.server.aedes.publish({ cmd: 'publish', topic: 'im/u/alice/in', payload: Buffer.from('hello over tls'), qos: 1, retain: false, dup: false }, () => resolve()))
    await waitFor(() => got.length === 1, 3000, 'message over wss')
    assert.equal(got[0]?.payload, 'hello over tls')
    assert.equal(await connackCode(`mqtts://127.0.0.1:${mqtts}`, { username: 'alice', password: 'bad', ca }), 5)
    await overTls.endAsync()
    await overWss.endAsync()
  })

  it('serves the HTTP API over HTTPS', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port: broker.server.ports.https, path: '/healthz', ca, servername: 'localhost' }, (res) => {
        let text = ''
        res.on('data', (d: Buffer) => { text += d.toString() })
        res.on('end', () => resolve(text))
      }).on('error', reject).end()
    })
    assert.equal(JSON.parse(body).ok, true)
  })

  it('reports health', async () => {
    const health = await api(broker.httpUrl, 'GET', '/healthz')
    assert.equal(health.status, 200)
    assert.equal(health.body.ok, true)
    assert.equal(typeof health.body.clients, 'number')
    assert.deepEqual(health.body.store, { kind: 'level', ok: true })
    assert.deepEqual(health.body.cluster, { kind: 'single', ok: true, node: broker.server.aedes.id, nodes: 1, leader: true })
  })

  it('counts connections, messages, auth failures and ACL denials in /metrics', async () => {
    const client = await connectClient(broker.mqttUrl, { username: 'alice', password: alice.token, clientId: 'alice-metrics' })
    await subscribeCodes(client, ['im/u/bob/in'])
    await client.publishAsync('im/u/alice/out', '{}', { qos: 1 })
    await connackCode(broker.mqttUrl, { username: 'alice', password: 'wrong' })
    const text = await (await fetch(broker.metricsUrl)).text()
    const value = (series: string): number => Number(text.split('\n').find((l) => l.startsWith(series + ' '))?.split(' ')[1] ?? NaN)
    assert.equal(value('mqtt_connections{transport="tcp"}'), 1)
    assert.equal(value('mqtt_acl_denials_total{action="subscribe"}'), 1)
    assert.ok(value('mqtt_messages_in_total') >= 1)
    assert.ok(value('mqtt_messages_out_total') >= 1)
    assert.equal(value('mqtt_auth_failures_total{reason="IM_ERR_UNAUTHENTICATED"}'), 2)
    assert.match(text, /# TYPE mqtt_queue_dropped_total counter/)
    assert.match(text, /process_resident_memory_bytes/)
    await client.endAsync()
  })
})
