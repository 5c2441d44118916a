import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Emitter } from '../../../shared/client/emitter.js'
import { HttpApi } from '../../../shared/client/http-api.js'
import { TokenSource } from '../../../shared/client/tokens.js'

function fakeFetch (answers: Array<[number, unknown]>) {
  const calls: Array<{ url: string, method: string, auth: string | null, body: string | null }> = []
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers)
    calls.push({ url: String(input), method: init?.method ?? 'GET', auth: headers.get('authorization'), body: typeof init?.body === 'string' ? init.body : null })
    const [status, body] = answers.shift() ?? [500, {}]
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status })
  }
  return { calls, fetch }
}

describe('HttpApi', () => {
  it('builds history queries and sends the bearer token', async () => {
    const { calls, fetch } = fakeFetch([[200, { messages: [], more: false }], [200, { messages: [], more: true }]])
    const api = new HttpApi({ baseUrl: 'http://h:8080/', tokens: new TokenSource('tok'), fetch })
    await api.messages('c/1', { after: 3, limit: 10 })
    assert.equal((await api.messages('c1', { before: 9 })).more, true)
    assert.deepEqual(calls.map((c) => [c.url, c.auth]), [
      ['http://h:8080/api/v1/conversations/c%2F1/messages?after=3&limit=10', 'Bearer tok'],
      ['http://h:8080/api/v1/conversations/c1/messages?before=9', 'Bearer tok']
    ])
  })

  it('follows every page of the conversation list and sorts it newest activity first [IM-CONV-3]', async () => {
    const summary = (cid: string, createdAt: number, ts?: number) => ({ cid, kind: 'group', members: [], createdAt, createdBy: 'a', lastSeq: ts ? 1 : 0, lastMessage: ts ? { ts } : null, unread: 0 })
    const { calls, fetch } = fakeFetch([
      [200, { conversations: [summary('g_a', 1, 50), summary('g_b', 2)], next: 'g_b' }],
      [200, { conversations: [summary('g_c', 3, 90)] }]
    ])
    const api = new HttpApi({ baseUrl: 'http://h', tokens: new TokenSource('tok'), fetch })
    assert.deepEqual((await api.conversations()).map((c) => c.cid), ['g_c', 'g_a', 'g_b'])
    assert.deepEqual(calls.map((c) => c.url), ['http://h/api/v1/conversations?limit=200', 'http://h/api/v1/conversations?limit=200&cursor=g_b'])
  })

  it('posts a new conversation as JSON', async () => {
    const { calls, fetch } = fakeFetch([[201, { cid: 'g_1', kind: 'group', members: [], createdAt: 1, createdBy: 'a', lastSeq: 0 }]])
    const api = new HttpApi({ baseUrl: 'http://h', tokens: new TokenSource('tok'), fetch })
    assert.equal((await api.createConversation('group', ['b', 'c'], 'Team')).cid, 'g_1')
    assert.deepEqual(JSON.parse(calls[0]!.body!), { kind: 'group', members: ['b', 'c'], title: 'Team' })
  })

  it('turns an error body into an ImError with its catalogue code', async () => {
    const { fetch } = fakeFetch([[403, { error: { code: 'IM_ERR_NOT_MEMBER', message: 'not yours' } }], [502, 'Bad gateway']])
    const api = new HttpApi({ baseUrl: 'http://h', tokens: new TokenSource('tok'), fetch })
    await assert.rejects(api.conversation('c1'), { name: 'ImError', code: 'IM_ERR_NOT_MEMBER', message: 'not yours' })
    await assert.rejects(api.conversations(), { name: 'ImClientError', code: 'CLIENT_BAD_RESPONSE' })
  })

  it('retries a 401 once with a fresh token from getToken', async () => {
    const { calls, fetch } = fakeFetch([[401, { error: { code: 'IM_ERR_TOKEN_EXPIRED', message: 'old' } }], [200, { conversations: [] }]])
    const api = new HttpApi({ baseUrl: 'http://h', tokens: new TokenSource('old', async () => 'new'), fetch })
    assert.deepEqual(await api.conversations(), [])
    assert.deepEqual(calls.map((c) => c.auth), ['Bearer old', 'Bearer new'])
  })
})

describe('Emitter', () => {
  class Probe extends Emitter<{ n: number, s: string }> {
    fire (n: number): void { this.emit('n', n) }
  }

  it('calls listeners in order, once for once(), and not after off()', () => {
    const e = new Probe()
    const got: string[] = []
    const off = e.on('n', (n) => got.push(`a${n}`))
    e.once('n', (n) => got.push(`b${n}`))
    e.fire(1)
    off()
    e.fire(2)
    assert.deepEqual(got, ['a1', 'b1'])
    assert.equal(e.listenerCount('n'), 0)
  })

  it('keeps going when a listener throws, and rethrows the error on a later task', (t) => {
    const later: Array<() => void> = []
    t.mock.method(globalThis, 'setTimeout', (callback: () => void) => { later.push(callback) })
    const e = new Probe()
    const got: number[] = []
    e.on('n', () => { throw new Error('listener bug') })
    e.on('n', (n) => got.push(n))
    e.fire(7)
    t.mock.restoreAll()
    assert.deepEqual(got, [7])
    assert.equal(later.length, 1)
    assert.throws(() => later[0]!(), /listener bug/)
  })
})
