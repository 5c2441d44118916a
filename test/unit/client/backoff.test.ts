import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Backoff } from '../../../shared/client/backoff.js'
import { Connection } from '../../../shared/client/connection.js'
import { TokenSource } from '../../../shared/client/tokens.js'
import { CONNACK } from '../../../shared/client/transport.js'
import { FakeTimers, FakeTransport, flush } from './fakes.js'

describe('Backoff', () => {
  it('doubles from 1 s and stops growing at 30 s', () => {
    const backoff = new Backoff()
    assert.deepEqual(Array.from({ length: 8 }, () => backoff.next()), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
  })

  it('starts again at 1 s after a reset', () => {
    const backoff = new Backoff()
    backoff.next(); backoff.next(); backoff.next()
    backoff.reset()
    assert.equal(backoff.next(), 1000)
  })

  it('takes jitter off the delay with the injected randomness', () => {
    const backoff = new Backoff({ jitter: 0.5, random: () => 0.5 })
    assert.deepEqual([backoff.next(), backoff.next()], [750, 1500])
  })

  it('refuses nonsense settings', () => {
    assert.throws(() => new Backoff({ initialMs: 0 }), RangeError)
    assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), RangeError)
    assert.throws(() => new Backoff({ jitter: 2 }), RangeError)
  })
})

function setup (options: { token?: string, getToken?: () => Promise<string> } = { token: 't0' }) {
  const timers = new FakeTimers()
  const transport = new FakeTransport()
  const events: string[] = []
  const delays: number[] = []
  const connection = new Connection({
    url: 'mqtt://broker', uid: 'alice', clientId: 'alice-1', keepaliveSeconds: 30, connectTimeoutMs: 5000,
    transport, tokens: new TokenSource(options.token, options.getToken), backoff: new Backoff(), timers,
    setup: async () => { await transport.subscribe('im/u/alice/in', 1) }
  })
  connection.on('connected', () => events.push('connected'))
  connection.on('disconnected', (e) => events.push(`disconnected:${String(e.willReconnect)}`))
  connection.on('reconnecting', (e) => { events.push(`reconnecting:${e.attempt}`); delays.push(e.delayMs) })
  connection.on('closed', (e) => events.push(e.error ? `closed:${e.error.message}` : 'closed'))
  return { timers, transport, connection, events, delays }
}

describe('Connection: reconnect with backoff', () => {
  it('connects with uid, token, clientId and a persistent session, then subscribes', async () => {
    const { transport, connection, events } = setup()
    await connection.start()
    assert.deepEqual(transport.connects[0], { clientId: 'alice-1', username: 'alice', password: 't0', clean: false, keepalive: 30, connectTimeoutMs: 5000 })
    assert.deepEqual(transport.subscribed, [{ filter: 'im/u/alice/in', qos: 1 }])
    assert.equal(connection.state, 'connected')
    assert.deepEqual(events, ['connected'])
  })

  it('waits 1 s, 2 s, 4 s … 30 s between failed attempts, and only that long', async () => {
    const { timers, transport, connection, delays } = setup()
    transport.outcomes = Array.from({ length: 8 }, () => new Error('ECONNREFUSED'))
    const ready = connection.start()
    await flush()
    assert.equal(transport.connects.length, 1)
    for (const delay of [1000, 2000, 4000, 8000, 16000, 30000, 30000]) {
      const before: number = transport.connects.length
      await timers.advance(delay - 1)
      assert.equal(transport.connects.length, before, `no attempt before ${delay} ms`)
      await timers.advance(1)
      assert.equal(transport.connects.length, before + 1, `an attempt after ${delay} ms`)
    }
    await timers.advance(30000)
    await ready
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
    assert.equal(connection.state, 'connected')
  })

  it('starts again at 1 s after a successful connect', async () => {
    const { timers, transport, connection, delays, events } = setup()
    transport.outcomes = [new Error('down'), new Error('down'), 'accept']
    const ready = connection.start()
    await timers.advance(1000)
    await timers.advance(2000)
    await ready
    transport.drop(new Error('ECONNRESET'))
    assert.deepEqual(timers.pending(), [1000])
    await timers.advance(1000)
    assert.equal(connection.state, 'connected')
    assert.deepEqual(delays, [1000, 2000, 1000])
    assert.deepEqual(events, ['reconnecting:1', 'reconnecting:2', 'connected', 'disconnected:true', 'reconnecting:1', 'connected'])
  })

  it('counts a failed setup (refused inbox) as a failed attempt and drops that connection', async () => {
    const { timers, transport, connection } = setup()
    transport.grant = 0x80
    const c = new Connection({
      url: 'mqtt://broker', uid: 'alice', clientId: 'a', keepaliveSeconds: 30, connectTimeoutMs: 5000, transport,
      tokens: new TokenSource('t'), backoff: new Backoff(), timers,
      setup: async () => { if (await transport.subscribe('im/u/alice/in', 1) === 0x80) throw new Error('refused') }
    })
    const started = c.start().catch((err: unknown) => err)
    await flush()
    assert.equal(transport.connected, false)
    assert.equal(c.state, 'waiting')
    assert.deepEqual(timers.pending(), [1000])
    await c.close()
    assert.equal((await started as { code?: string }).code, 'CLIENT_CLOSED')
    await connection.close()
  })

  it('asks getToken for a fresh token before every reconnect', async () => {
    let n = 0
    const { timers, transport, connection } = setup({ token: 'first', getToken: async () => `fresh-${++n}` })
    await connection.start()
    transport.drop()
    await timers.advance(1000)
    transport.drop()
    await timers.advance(1000)
    assert.deepEqual(transport.connects.map((c) => c.password), ['first', 'fresh-1', 'fresh-2'])
  })

  it('gets the first token from getToken when none is given', async () => {
    const { transport, connection } = setup({ getToken: async () => 'from-callback' })
    await connection.start()
    assert.equal(transport.connects[0]?.password, 'from-callback')
  })

  it('retries a refused token with a fresh one when it can refresh', async () => {
    const { timers, transport, connection } = setup({ token: 'expired', getToken: async () => 'renewed' })
    transport.outcomes = [CONNACK.NOT_AUTHORIZED]
    const ready = connection.start()
    await timers.advance(1000)
    await ready
    assert.deepEqual(transport.connects.map((c) => c.password), ['expired', 'renewed'])
  })

  it('stops for good on CONNACK 5 when there is no way to get another token', async () => {
    const { timers, transport, connection, events } = setup()
    transport.outcomes = [CONNACK.NOT_AUTHORIZED]
    await assert.rejects(connection.start(), { name: 'ImClientError', code: 'CLIENT_CLOSED' })
    await timers.advance(60_000)
    assert.equal(transport.connects.length, 1)
    assert.equal(connection.state, 'closed')
    assert.deepEqual(events, ['closed:connection refused: CONNACK 5'])
  })

  it('never reconnects after close(), whatever happens next', async () => {
    const { timers, transport, connection, events } = setup()
    await connection.start()
    await connection.close()
    assert.equal(transport.connected, false)
    assert.deepEqual(timers.pending(), [])
    await timers.advance(120_000)
    assert.equal(transport.connects.length, 1)
    assert.deepEqual(events, ['connected', 'disconnected:false', 'closed'])
    await assert.rejects(connection.start(), { code: 'CLIENT_CLOSED' })
  })

  it('cancels a scheduled reconnect on close()', async () => {
    const { timers, transport, connection } = setup()
    await connection.start()
    transport.drop()
    assert.deepEqual(timers.pending(), [1000])
    await connection.close()
    assert.deepEqual(timers.pending(), [])
    await timers.advance(10_000)
    assert.equal(transport.connects.length, 1)
  })

  it('abandons an attempt in flight when closed meanwhile', async () => {
    let release!: (token: string) => void
    const { timers, transport, connection } = setup({ token: 't', getToken: () => new Promise((resolve) => { release = resolve }) })
    await connection.start()
    transport.drop()
    await timers.advance(1000)
    await connection.close()
    release('late')
    await flush()
    assert.equal(transport.connects.length, 1)
    assert.equal(transport.connected, false)
  })
})
