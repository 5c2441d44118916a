/** Password and device-secret hashing: argon2id from @node-rs/argon2 (prebuilt, maintained). */
import { hash, verify } from '@node-rs/argon2'
import type { HashGate } from './hash-gate.js'

export type HashKind = 'hash' | 'verify'

export interface PasswordHasherOptions {
  /** called when a hash is computed (a new hash, or a verification) */
  onCompute?: (kind: HashKind) => void
  /** bounds how many computations run and wait at once; refuses past it (`IM_ERR_BUSY`) [IM-LIMIT-3] */
  gate?: HashGate
}

/**
 * Hashes and verifies passwords and device secrets, each argon2 computation in its turn of the
 * gate (throws `BusyError` when there is none), and counts them.
 */
export class PasswordHasher {
  readonly #options: PasswordHasherOptions

  constructor (options: PasswordHasherOptions = {}) {
    this.#options = options
  }

  async hash (plain: string): Promise<string> {
    return await this.#compute('hash', async () => await hashSecret(plain))
  }

  /** Constant-time verification; a malformed stored hash counts as a mismatch, never a crash. */
  async verify (storedHash: string | undefined, plain: string): Promise<boolean> {
    if (!storedHash) return false
    return await this.#compute('verify', async () => await verifySecret(storedHash, plain))
  }

  async #compute<T> (kind: HashKind, work: () => Promise<T>): Promise<T> {
    const counted = async (): Promise<T> => {
      this.#options.onCompute?.(kind)
      return await work()
    }
    return this.#options.gate ? await this.#options.gate.run(counted) : await counted()
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
