/**
 * Every rate limit of the broker, built once from the frozen config. Each refusal is counted in
 * `im_rate_limited_total{limit}`. Login attempts are counted in the store's attempt store, shared
 * by the nodes when STORE=mongodb (login-guard.ts); the other counters live in this process's
 * memory: on several nodes each node counts its own share. [IM-LIMIT-1]
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import type { Config } from '../config/schema.js'
import type { AttemptStore } from '../store/ports.js'
import { addressPrefix } from './address-prefix.js'
import { FairShareBudget } from './fair-share.js'
import { LoginGuard } from './login-guard.js'
import { RateLimitedError } from './rate-limited.js'
import { TokenBucket } from './token-bucket.js'

export type LimitName = 'login-ip' | 'login-uid' | 'visitor-ip' | 'visitor-site' | 'visitor-source' | 'command' | 'connect' | 'conversation'

export interface RateLimits {
  readonly login: LoginGuard
  /** every `POST /api/v1/visitors`, per client address */
  visitorRequest (ip: string): Promise<void>
  /** every new visitor identity, per site, shared fairly between the networks they come from [IM-LIMIT-FAIR] */
  newVisitor (siteKey: string, ip: string): Promise<void>
  /** one command on `uid`'s outbox; throws `RateLimitedError` when over */
  command (uid: string): void
  /** one MQTT CONNECT from `ip` */
  connect (ip: string): Promise<void>
  /** one new conversation started by `uid` (hourly quota) */
  newConversation (uid: string): Promise<void>
}

type LimitSettings = Pick<Config,
  'LOGIN_ATTEMPTS_PER_IP_PER_MINUTE' | 'LOGIN_MAX_FAILURES' | 'LOGIN_LOCKOUT_SECONDS' |
  'VISITORS_PER_IP_PER_MINUTE' | 'NEW_VISITORS_PER_SITE_PER_MINUTE' | 'NEW_VISITORS_SOURCE_SHARE_PERCENT' |
  'COMMANDS_PER_SECOND' | 'COMMAND_BURST' | 'CONNECTS_PER_IP_PER_MINUTE' | 'CONVERSATIONS_PER_USER_PER_HOUR'>

/** `attempts`: where login attempts are counted — the store's, shared by the nodes (limits/login-guard.ts) */
export function createRateLimits (config: LimitSettings, onRefuse: (limit: LimitName) => void, attempts: AttemptStore): RateLimits {
  const perMinute = (points: number): RateLimiterMemory => new RateLimiterMemory({ points, duration: 60 })
  const visitorIp = perMinute(config.VISITORS_PER_IP_PER_MINUTE)
  const visitorSite = new FairShareBudget({ perWindow: config.NEW_VISITORS_PER_SITE_PER_MINUTE, sharePercent: config.NEW_VISITORS_SOURCE_SHARE_PERCENT, windowMs: 60_000 })
  const connects = perMinute(config.CONNECTS_PER_IP_PER_MINUTE)
  const commands = new TokenBucket({ perSecond: config.COMMANDS_PER_SECOND, burst: config.COMMAND_BURST })
  const conversations = new RateLimiterMemory({ points: config.CONVERSATIONS_PER_USER_PER_HOUR, duration: 3600 })

  const consume = async (limiter: RateLimiterMemory, key: string, limit: LimitName, message: string): Promise<void> => {
    try {
      await limiter.consume(key)
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err
      onRefuse(limit)
      throw new RateLimitedError(err.msBeforeNext, message)
    }
  }

  return {
    login: new LoginGuard({
      attempts,
      attemptsPerIpPerMinute: config.LOGIN_ATTEMPTS_PER_IP_PER_MINUTE,
      maxFailures: config.LOGIN_MAX_FAILURES,
      lockoutSeconds: config.LOGIN_LOCKOUT_SECONDS,
      onRefuse
    }),
    visitorRequest: async (ip) => { await consume(visitorIp, ip, 'visitor-ip', 'Too many visitor sessions from this address; try again later.') },
    newVisitor: async (siteKey, ip) => {
      const refused = visitorSite.take(siteKey, addressPrefix(ip))
      if (!refused) return
      onRefuse(refused.limit === 'budget' ? 'visitor-site' : 'visitor-source')
      throw new RateLimitedError(refused.retryMs, refused.limit === 'budget'
        ? 'Too many new visitors for this site right now; try again later.'
        : 'Too many new visitors for this site from your network right now; try again later.')
    },
    connect: async (ip) => { await consume(connects, ip, 'connect', 'Too many connections from this address.') },
    newConversation: async (uid) => { await consume(conversations, uid, 'conversation', 'Too many new conversations this hour; try again later.') },
    command: (uid) => {
      const wait = commands.take(uid)
      if (wait === 0) return
      onRefuse('command')
      throw new RateLimitedError(wait, `Too many commands; slow down (next in ${wait} ms).`)
    }
  }
}
