/** Password and device-secret hashing: argon2id from @node-rs/argon2 (prebuilt, maintained). */
import { hash, verify } from '@node-rs/argon2'

export type HashKind = 'hash' | 'verify'

export interface PasswordHasherOptions {
  /** called when a hash is computed (a new hash, or a verification) */
  onCompute?: (kind: HashKind) => void
}

/** Hashes and verifies passwords and device secrets, and counts each argon2 computation. */
export class PasswordHasher {
  readonly #options: PasswordHasherOptions

  constructor (options: PasswordHasherOptions = {}) {
    this.#options = options
  }

  async hash (plain: string): Promise<string> {
    this.#options.onCompute?.('hash')
    return await hashSecret(plain)
  }

  /** Constant-time verification; a malformed stored hash counts as a mismatch, never a crash. */
  async verify (storedHash: string | undefined, plain: string): Promise<boolean> {
    if (!storedHash) return false
    this.#options.onCompute?.('verify')
    return await verifySecret(storedHash, plain)
  }
}

export async function hashSecret (plain: string): Promise<string> {
  return await hash(plain)
}

/** Constant-time verification; a malformed stored hash counts as a mismatch, never a crash. */
export async function verifySecret (storedHash: string | undefined, plain: string): Promise<boolean> {
  if (!storedHash) return false
  try {
    return await verify(storedHash, plain)
  } catch {
    return false
  }
}
