/**
 * What a failure to reach Redis means for the operator, in words that say what to fix: a refused
 * password or ACL user, a TLS certificate the broker does not trust, a TLS port spoken to in
 * plain text. Used for the start-up error and for `/healthz` while the link is down, so a wrong
 * password is never a silent failure. The message is Redis' or Node's own, passed in scrubbed.
 */

/** TLS verification failures (Node's `err.code`); the message alone varies between versions. */
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'CERT_REJECTED'
])

export function explainRedisError (message: string, code?: string): string {
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH failed/i.test(message)) {
    return `Redis refused the credentials (${message}); CLUSTER_REDIS_URL must carry the password Redis requires — rediss://:password@host:6379, or rediss://user:password@host:6379 for an ACL user`
  }
  if (/NOPERM/i.test(message)) {
    return `the Redis ACL user may not run what the broker needs (${message}); it needs PUBLISH, (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING, INFO and CLIENT SETNAME, on every channel (&*): see docs/operations.md`
  }
  if ((code !== undefined && CERTIFICATE_CODES.has(code)) || /certificate/i.test(message)) {
    return `the TLS certificate of Redis was not accepted (${message}); name the CA that signed it in CLUSTER_REDIS_CA_FILE`
  }
  return message
}
