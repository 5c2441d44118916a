/**
 * A site's new-visitor budget is shared fairly between the networks visitors come from: a flood
 * of new visitors from tens of addresses, each within its own per-address limit, cannot spend the
 * budget that real visitors from fresh addresses need, and addresses of one /24 (IPv6: /56) count
 * as one network. Real HTTP requests from real local addresses (127.x.y.z: every one of them is
 * this machine's), and from addresses behind a trusted proxy (X-Forwarded-For). [IM-LIMIT-FAIR]
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, defaultSiteKey } from '../helpers/http.js'

interface From { localAddress?: string, forwardedFor?: string }

/** `POST /api/v1/visitors` for a new visitor, over a connection of its own from `from`; the status. */
async function newVisitorFrom (base: string, siteKey: string, from: From): Promise<number> {
  const url = new URL('/api/v1/visitors', base)
  const body = JSON.stringify({ siteKey })
  return await new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      agent: false,
      ...(from.localAddress ? { localAddress: from.localAddress } : {}),
      headers: { 'content-type': 'application/json', ...(from.forwardedFor ? { 'x-forwarded-for': from.forwardedFor } : {}) }
    }, (res) => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function refusals (broker: TestBroker, limit: string): Promise<number> {
  const metric = await broker.server.metrics.rateLimited.get()
  return metric.values.find((v) => v.labels.limit === limit)?.value ?? 0
}

/** Each source sends `perSource` new-visitor requests one after another, all sources at once; what each got. */
async function flood (base: string, siteKey: string, sources: From[], perSource: number): Promise<Array<{ ok: number, refused: number }>> {
  return await Promise.all(sources.map(async (from) => {
    const tally = { ok: 0, refused: 0 }
    for (let i = 0; i < perSource; i++) {
      const status = await newVisitorFrom(base, siteKey, from)
      if (status === 200) tally.ok++
      else if (status === 429) tally.refused++
      else throw new Error(`unexpected ${status}`)
    }
    return tally
  }))
}

describe('new visitors during a flood from many addresses (the default limits)', () => {
  let broker: TestBroker
  let siteKey: string
  before(async () => {
    broker = await startTestBroker() // NEW_VISITORS_PER_SITE_PER_MINUTE 1200, VISITORS_PER_IP_PER_MINUTE 60, share 5 %
    siteKey = await defaultSiteKey(broker.httpUrl, await adminToken(broker.httpUrl))
  })
  after(async () => { await broker.stop() })

  it('21 addresses × 60 requests cannot make a new visitor from a fresh address get 429, during the flood or after it', async () => {
    const bots = Array.from({ length: 21 }, (_, n) => ({ localAddress: `127.1.${n + 1}.1` }))
    const fresh: number[] = []
    let flooding = true
    const flooded = flood(broker.httpUrl, siteKey, bots, 60).finally(() => { flooding = false })
    // real visitors keep arriving from fresh addresses while the flood is on
    for (let m = 1; flooding && m <= 200; m++) fresh.push(await newVisitorFrom(broker.httpUrl, siteKey, { localAddress: `127.2.${m}.1` }))
    const tallies = await flooded
    for (let m = 201; m <= 210; m++) fresh.push(await newVisitorFrom(broker.httpUrl, siteKey, { localAddress: `127.2.${m}.1` }))

    assert.deepEqual(fresh.filter((s) => s !== 200), [], `every fresh address got its visitor (${fresh.length} tried)`)
    const taken = tallies.reduce((sum, t) => sum + t.ok, 0)
    assert.equal(tallies.reduce((sum, t) => sum + t.ok + t.refused, 0), 21 * 60)
    assert.ok(taken < 1200 - fresh.length, `the flood took ${taken} of the site's 1200`)
    for (const t of tallies) assert.ok(t.ok <= 60, `one address took ${t.ok}: at most 5 % of the budget`)
    assert.ok(await refusals(broker, 'visitor-source') > 0, 'refusals counted as visitor-source')
    assert.equal(await refusals(broker, 'visitor-site'), 0, 'the site\'s budget was never spent')
  })
})

describe('new visitors from networks behind a trusted proxy', () => {
  let broker: TestBroker
  let siteKey: string
  before(async () => {
    broker = await startTestBroker({ TRUST_PROXY: '127.0.0.1', NEW_VISITORS_PER_SITE_PER_MINUTE: 400 })
    siteKey = await defaultSiteKey(broker.httpUrl, await adminToken(broker.httpUrl))
  })
  after(async () => { await broker.stop() })

  it('40 addresses flooding leave the budget open to fresh ones; a /24 or a /56 counts as one network', async () => {
    // 40 addresses in 40 networks (half IPv4, half IPv6), 20 requests each
    const bots = Array.from({ length: 40 }, (_, n) => ({ forwardedFor: n % 2 === 0 ? `198.51.${n}.7` : `2001:db8:${n}::7` }))
    const tallies = await flood(broker.httpUrl, siteKey, bots, 20)
    const taken = tallies.reduce((sum, t) => sum + t.ok, 0)
    assert.ok(taken <= 400 * 0.7, `40 networks took ${taken} of 400`)
    for (let m = 1; m <= 20; m++) {
      assert.equal(await newVisitorFrom(broker.httpUrl, siteKey, { forwardedFor: `203.0.${m}.1` }), 200, `fresh IPv4 network ${m}`)
      assert.equal(await newVisitorFrom(broker.httpUrl, siteKey, { forwardedFor: `2001:db8:1:${m}00::1` }), 200, `fresh IPv6 network ${m}`)
    }

    // one attacker with a whole /24: 40 addresses of it are one network with one share
    const subnet = await flood(broker.httpUrl, siteKey, Array.from({ length: 40 }, (_, n) => ({ forwardedFor: `192.0.2.${n + 10}` })), 2)
    const fromSubnet = subnet.reduce((sum, t) => sum + t.ok, 0)
    assert.ok(fromSubnet >= 1 && fromSubnet <= 20, `the /24 took ${fromSubnet}, at most 5 % of the 400`)
    assert.equal(await newVisitorFrom(broker.httpUrl, siteKey, { forwardedFor: '192.0.2.250' }), 429, 'another address of that /24')
    const v6 = await flood(broker.httpUrl, siteKey, Array.from({ length: 40 }, (_, n) => ({ forwardedFor: `2001:db8:77:aa${(n + 16).toString(16)}::${n + 1}` })), 2)
    assert.ok(v6.reduce((sum, t) => sum + t.ok, 0) <= 20, 'addresses of one /56 share one share')
    assert.equal(await newVisitorFrom(broker.httpUrl, siteKey, { forwardedFor: '2001:db8:77:ab00::1' }), 200, 'the next /56 is another network')
  })
})
