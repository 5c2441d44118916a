/**
 * The login limits hold under concurrency: each attempt is counted before its password is
 * checked, atomically, so hundreds of guesses sent at once — from many addresses, to one node or
 * spread over two nodes sharing one MongoDB — get no more password checks than the limits allow,
 * and the right password sent amid them is refused like the rest once the uid is locked.
 * Password checks are counted by `im_password_hashes_total{kind="verify"}`. [IM-LIMIT-1]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startTestBroker, tempDataDir, type TestBroker } from '../helpers/broker.js'
import { startFerretDb, uniqueDbName, type MongoServer } from '../helpers/ferretdb.js'
import { adminToken, createUser } from '../helpers/http.js'
import { awayFromMinuteEnd } from '../helpers/minute.js'

const MAX_FAILURES = 5
const PER_ADDRESS = 30
const LIMITS = { LOGIN_MAX_FAILURES: MAX_FAILURES, LOGIN_ATTEMPTS_PER_IP_PER_MINUTE: PER_ADDRESS, LOGIN_LOCKOUT_SECONDS: 600, TRUST_PROXY: '127.0.0.1' }

async function passwordChecks (nodes: TestBroker[]): Promise<number> {
  let sum = 0
  for (const node of nodes) sum += (await node.server.metrics.passwordHashes.get()).values.find((v) => v.labels.kind === 'verify')?.value ?? 0
  return sum
}

interface Guess { uid: string, password: string, address: string }

/** Sends every guess at once, to the nodes in turn; resolves each one's HTTP status, in order. */
async function sendAtOnce (nodes: TestBroker[], guesses: Guess[]): Promise<number[]> {
  return await Promise.all(guesses.map(async ({ uid, password, address }, i) => {
    const res = await fetch(`${nodes[i % nodes.length]!.httpUrl}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
      body: JSON.stringify({ uid, password })
    })
    await res.arrayBuffer()
    return res.status
  }))
}

/** 300 guesses at one uid from 10 addresses (30 each, within the address limit), the right password last. */
function guessesAt (uid: string, right: string): Guess[] {
  const guesses = Array.from({ length: 300 }, (_, i) => ({ uid, password: `wrong-guess-${i}`, address: `10.7.0.${1 + (i % 10)}` }))
  guesses[299] = { uid, password: right, address: '10.7.0.10' }
  return guesses
}

function runConcurrencyCases (nodes: () => TestBroker[]): void {
  it('checks at most LOGIN_MAX_FAILURES passwords of 300 guesses sent at once from 10 addresses, and refuses the right one among them', async () => {
    const all = nodes()
    await createUser(all[0]!.httpUrl, await adminToken(all[0]!.httpUrl), 'target')
    const checksBefore = await passwordChecks(all)
    const statuses = await sendAtOnce(all, guessesAt('target', 'pw-target-12345'))
    const checks = await passwordChecks(all) - checksBefore
    assert.ok(checks <= MAX_FAILURES, `${checks} password checks`)
    assert.equal(statuses[299], 429, 'the right password, sent amid the guesses')
    assert.ok(statuses.every((s) => s === 401 || s === 429), `statuses: ${[...new Set(statuses)].join(', ')}`)
    assert.ok(statuses.filter((s) => s === 401).length <= MAX_FAILURES)
  })

  it('checks at most LOGIN_ATTEMPTS_PER_IP_PER_MINUTE passwords of guesses from one address at once, whichever uids they name', async () => {
    const all = nodes()
    await awayFromMinuteEnd()
    const checksBefore = await passwordChecks(all)
    const guesses = Array.from({ length: 90 }, (_, i) => ({ uid: `nobody-${i}`, password: 'wrong-guess', address: '10.8.0.1' }))
    const statuses = await sendAtOnce(all, guesses)
    const checks = await passwordChecks(all) - checksBefore
    assert.ok(checks <= PER_ADDRESS, `${checks} password checks`)
    assert.equal(statuses.filter((s) => s === 429).length, 90 - PER_ADDRESS, 'refused by the address limit')
    // the admitted ones were checked, or refused by the bound on hashing (503) without a check
    assert.equal(statuses.filter((s) => s === 401).length, checks)
    assert.equal(statuses.filter((s) => s === 503).length, PER_ADDRESS - checks)
  })
}

describe('login limits under concurrent guesses, one node', () => {
  let broker: TestBroker
  before(async () => { broker = await startTestBroker(LIMITS) })
  after(async () => { await broker.stop() })
  runConcurrencyCases(() => [broker])
})

describe('login limits under concurrent guesses, two nodes sharing one MongoDB', () => {
  let mongo: MongoServer
  let one: TestBroker
  let two: TestBroker
  before(async () => {
    mongo = await startFerretDb()
    const shared = { ...LIMITS, STORE: 'mongodb' as const, MONGO_URL: mongo.url, MONGO_DB: uniqueDbName('logins') }
    one = await startTestBroker(shared, tempDataDir())
    two = await startTestBroker(shared, tempDataDir())
  }, { timeout: 15 * 60_000 }) // may build FerretDB first
  after(async () => {
    await one?.stop()
    await two?.stop()
    await mongo?.stop()
  })
  runConcurrencyCases(() => [one, two])
})
