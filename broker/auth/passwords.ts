/** Password and device-secret hashing: argon2id from @node-rs/argon2 (prebuilt, maintained). */
import { hash, verify } from '@node-rs/argon2'

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
