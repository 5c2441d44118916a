/**
 * Invitations [IM-CONV-2]: adding someone else to a conversation — a group, or a direct
 * conversation one starts — invites them. Nobody can fill a principal's invitations for good
 * (one inviter keeps at most MAX_PENDING_PER_INVITER of them; past MAX_PENDING_GROUPS the oldest
 * gives way), and the answer tells nothing of whether a uid exists: an invitation that cannot
 * reach its invitee is held, and looks to the inviter exactly like one that did.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Member, ServerEvent } from '../../shared/protocol.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { adminToken, api, createUser, defaultSiteKey, type ApiResponse, type Principal } from '../helpers/http.js'
import { join, type Participant } from '../helpers/im.js'

interface ConvBody { cid: string, kind: string, members: Member[] }

describe('invitations', () => {
  let broker: TestBroker
  let admin: string
  const users: Record<string, Principal> = {}
  const participants: Participant[] = []
  let visitor: Principal

  const post = async (token: string, kind: 'direct' | 'group', members: string[]): Promise<ApiResponse<ConvBody>> =>
    await api(broker.httpUrl, 'POST', '/api/v1/conversations', { kind, members }, token)
  const listed = async (who: Principal): Promise<string[]> =>
    ((await api(broker.httpUrl, 'GET', '/api/v1/conversations?limit=500', undefined, who.token)).body.conversations as ConvBody[]).map((c) => c.cid).sort()
  const joined = async (who: Principal): Promise<Participant> => {
    const p = await join(broker.mqttUrl, who)
    participants.push(p)
    return p
  }

  before(async () => {
    broker = await startTestBroker({ MAX_PENDING_GROUPS: 4, MAX_PENDING_PER_INVITER: 2, CONVERSATIONS_PER_USER_PER_HOUR: 1000 })
    admin = await adminToken(broker.httpUrl)
    for (const uid of ['alice', 'bob', 'carol', 'dora', 'victim', 'mallory', 'mallet', 'mal', 'friend', 'grace', 'ivan', 'judy']) users[uid] = await createUser(broker.httpUrl, admin, uid)
    await api(broker.httpUrl, 'POST', '/api/v1/admin/principals/dora/disable', {}, admin)
    const signedIn = (await api(broker.httpUrl, 'POST', '/api/v1/visitors', { siteKey: await defaultSiteKey(broker.httpUrl, admin) })).body
    visitor = { uid: signedIn.uid, token: signedIn.token, role: 'visitor' }
  })
  after(async () => {
    await Promise.all(participants.map(async (p) => { await p.close() }))
    await broker.stop()
  })

  it('keeps at most MAX_PENDING_PER_INVITER of one inviter\'s invitations, and past MAX_PENDING_GROUPS lets the oldest give way: nobody can lock a principal out', async () => {
    const victim = await joined(users.victim!)
    const byMallory: string[] = []
    for (let n = 0; n < 5; n++) {
      const res = await post(users.mallory!.token, 'group', ['victim'])
      assert.equal(res.status, 201, 'the inviter is never refused')
      assert.equal(res.body.members.find((m) => m.uid === 'victim')?.pending, true)
      byMallory.push(res.body.cid)
    }
    assert.deepEqual(await listed(users.victim!), byMallory.slice(0, 2).sort(), 'one inviter holds at most 2 of them')
    // the held ones are no conversations of the victim's
    for (const cid of byMallory.slice(2)) {
      assert.equal((await api(broker.httpUrl, 'GET', `/api/v1/conversations/${cid}`, undefined, users.victim!.token)).status, 403)
    }
    await victim.command({ op: 'send', cmid: 'into-held', cid: byMallory[4], type: 'text', body: { text: 'hi' } })
    assert.equal((await victim.next('error', (e) => e.cmid === 'into-held')).code, 'IM_ERR_NOT_MEMBER')
    assert.ok(!victim.events.some((e) => e.ev === 'conv' && byMallory.slice(2).includes(e.conv.cid)), 'the victim was never told of them')

    // two more inviters fill the list (4), a third pushes out the oldest
    const byMallet = [(await post(users.mallet!.token, 'group', ['victim'])).body.cid, (await post(users.mallet!.token, 'group', ['victim'])).body.cid]
    assert.deepEqual(await listed(users.victim!), [...byMallory.slice(0, 2), ...byMallet].sort())
    const byMal = (await post(users.mal!.token, 'group', ['victim'])).body.cid
    assert.deepEqual(await listed(users.victim!), [byMallory[1]!, ...byMallet, byMal].sort(), 'the oldest gave way')
    const gone = await victim.next('conv', (e) => e.type === 'member-removed' && e.conv.cid === byMallory[0])
    assert.equal((gone as Extract<ServerEvent, { ev: 'conv' }>).uid, 'victim')
    assert.equal((await api(broker.httpUrl, 'GET', `/api/v1/conversations/${byMallory[0]}`, undefined, users.victim!.token)).status, 403)
    // ...which its inviter cannot see: still pending to mallory
    const seenByMallory = (await api<ConvBody>(broker.httpUrl, 'GET', `/api/v1/conversations/${byMallory[0]}`, undefined, users.mallory!.token)).body.members.find((m) => m.uid === 'victim')
    assert.deepEqual(seenByMallory, { uid: 'victim', role: 'member', joinedAt: seenByMallory?.joinedAt, readSeq: 0, pending: true, invitedBy: 'mallory' })

    // a friend still gets through, in a group and directly
    const fromFriend = await post(users.friend!.token, 'group', ['victim'])
    const direct = await post(users.friend!.token, 'direct', ['victim'])
    assert.equal(direct.status, 201)
    assert.ok((await listed(users.victim!)).includes(fromFriend.body.cid) && (await listed(users.victim!)).includes(direct.body.cid))
    await victim.next('conv', (e) => e.type === 'created' && e.conv.cid === direct.body.cid)
    // the victim reads one: accepted, it no longer counts
    await victim.command({ op: 'read', cid: direct.body.cid, seq: 0 })
    await victim.next('read', (e) => e.cid === direct.body.cid)
    const accepted = await api<ConvBody>(broker.httpUrl, 'GET', `/api/v1/conversations/${direct.body.cid}`, undefined, users.victim!.token)
    assert.equal(accepted.body.members.find((m) => m.uid === 'victim')?.pending, undefined)
  })

  it('answers an invitation the same whether the uid exists or not: a user who has not agreed, an unknown uid, a visitor, a disabled principal', async () => {
    // direct: the same status and body, again and again
    const existing = await post(users.alice!.token, 'direct', ['bob'])
    const answers = {
      unknown: await post(users.alice!.token, 'direct', ['nobody-here']),
      visitor: await post(users.alice!.token, 'direct', [visitor.uid]),
      disabled: await post(users.alice!.token, 'direct', ['dora'])
    }
    for (const [who, res] of Object.entries(answers)) assert.deepEqual(shape(res), shape(existing), who)
    assert.equal(existing.status, 201)
    for (const [who, res] of Object.entries({ existing, ...answers })) {
      const again = await post(users.alice!.token, 'direct', [invitee(res)])
      assert.deepEqual([again.status, again.body.cid], [200, res.body.cid], who)
      assert.deepEqual(shape(again), shape(await post(users.alice!.token, 'direct', ['bob'])), who)
      const read = await api(broker.httpUrl, 'GET', `/api/v1/conversations/${res.body.cid}`, undefined, users.alice!.token)
      assert.deepEqual(shape(read), { ...shape(again), status: 200 }, who)
    }

    // groups, and adding a member
    const group = await post(users.alice!.token, 'group', ['carol'])
    const unknownGroup = await post(users.alice!.token, 'group', ['nobody-here'])
    assert.deepEqual(shape(unknownGroup), shape(group))
    const add = async (uid: string): Promise<ApiResponse<ConvBody>> => await api(broker.httpUrl, 'POST', `/api/v1/conversations/${group.body.cid}/members`, { uid }, users.alice!.token)
    const addedGrace = await add('grace')
    const addedNobody = await add('nobody-else')
    assert.equal(addedGrace.status, 201)
    assert.deepEqual(addedNobody.status, 201)
    assert.deepEqual(addedNobody.body.members.map(normalize), addedGrace.body.members.map(normalize).concat(normalize(addedNobody.body.members.at(-1)!)))

    // the user who exists got it; the visitor, reached through the support desk only, cannot see it
    assert.ok((await listed(users.bob!)).includes(existing.body.cid))
    assert.equal((await api(broker.httpUrl, 'GET', `/api/v1/conversations/${answers.visitor.body.cid}`, undefined, visitor.token)).status, 403)
    assert.ok(!(await listed(visitor)).includes(answers.visitor.body.cid))
  })

  it('lets a held invitee that starts the same direct conversation join it', async () => {
    for (let n = 0; n < 2; n++) assert.equal((await post(users.ivan!.token, 'group', ['judy'])).status, 201)
    const held = await post(users.ivan!.token, 'direct', ['judy']) // ivan's third: held
    assert.equal(held.status, 201)
    assert.ok(!(await listed(users.judy!)).includes(held.body.cid))
    const ivan = await joined(users.ivan!)
    const started = await post(users.judy!.token, 'direct', ['ivan'])
    assert.deepEqual([started.status, started.body.cid], [200, held.body.cid])
    assert.deepEqual(started.body.members.find((m) => m.uid === 'judy'), { uid: 'judy', role: 'member', joinedAt: started.body.members.find((m) => m.uid === 'judy')?.joinedAt, readSeq: 0, invitedBy: 'ivan' })
    assert.ok((await listed(users.judy!)).includes(held.body.cid))
    await ivan.next('conv', (e) => e.type === 'member-added' && e.conv.cid === held.body.cid && e.uid === 'judy')
  })

  it('tells a conversation\'s members of an invitee\'s presence only once it accepted', async () => {
    // grace invites carol directly; alice and grace share an accepted conversation (a witness)
    const grace = await joined(users.grace!)
    const invitation = (await post(users.grace!.token, 'direct', ['carol'])).body.cid
    const witness = (await post(users.alice!.token, 'direct', ['grace'])).body.cid
    await grace.command({ op: 'read', cid: witness, seq: 0 })
    await grace.next('read', (e) => e.cid === witness)
    const carol = await joined(users.carol!) // carol comes online: an invitee, not yet agreed
    await joined(users.alice!)
    await grace.next('presence', (e) => e.uid === 'alice' && e.online) // alice came online after carol: presence goes out in order
    assert.ok(!grace.events.some((e) => e.ev === 'presence' && e.uid === 'carol'), 'carol\'s presence did not reach grace')
    // carol accepts by writing; from then on her presence goes to grace
    await carol.command({ op: 'send', cmid: 'yes', cid: invitation, type: 'text', body: { text: 'hello grace' } })
    await grace.next('msg', (e) => e.msg.cmid === 'yes')
    await carol.close()
    await grace.next('presence', (e) => e.uid === 'carol' && !e.online)
  })
})

function invitee (res: ApiResponse<ConvBody>): string {
  return res.body.members.find((m) => m.pending === true)!.uid
}

/** A member with what differs between two invitations of the same kind (the uid, the time) blanked out. */
function normalize (m: Member): Record<string, unknown> {
  return { ...m, uid: m.pending === true ? '<invitee>' : m.uid, joinedAt: '<t>' }
}

/** Status and body of an answer with the invitee's uid, the cid and the times blanked out. */
function shape (res: ApiResponse<ConvBody>): Record<string, unknown> {
  const body = res.body as ConvBody & Record<string, unknown>
  return { status: res.status, body: { ...body, cid: '<cid>', createdAt: '<t>', members: body.members.map(normalize) } }
}
