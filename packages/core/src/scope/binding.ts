/**
 * The cryptographic binding of a scope key to its place: the KMS encryption context used when the key is
 * generated, unwrapped and re-wrapped. KMS authenticates it, so a wrapped key copied to another scope or
 * version in the store fails to unwrap (`InvalidCiphertextException`), whatever the store says.
 */
import { MalformedCiphertextError } from '../errors/errors.js'
import { MAX_VARINT, readVarint, varintLength, writeVarint } from '../format/varint.js'
import type { EncryptionContext } from '../keyring/types.js'

/** Encryption-context key carrying the scope id in every KMS call on a scope key. */
export const SCOPE_CONTEXT_KEY = 'kms-envelope:scope'
/** Encryption-context key carrying the version number (decimal) in every KMS call on a scope key. */
export const VERSION_CONTEXT_KEY = 'kms-envelope:version'
/** Highest version number (the message field is a 4-byte varint). */
export const MAX_SCOPE_KEY_VERSION = MAX_VARINT

/**
 * The KMS encryption context of (scopeId, version): the user's extra pairs plus the two binding pairs,
 * which always win.
 *
 * @example
 * ```ts
 * bindingContext('customer-42', 3) // { 'kms-envelope:scope': 'customer-42', 'kms-envelope:version': '3' }
 * ```
 */
export function bindingContext(
  scopeId: string,
  version: number,
  extra: EncryptionContext = {},
): Record<string, string> {
  return { ...extra, [SCOPE_CONTEXT_KEY]: scopeId, [VERSION_CONTEXT_KEY]: String(version) }
}

/**
 * The EDK blob of a scope key version: the version as unsigned LEB128.
 *
 * @example
 * ```ts
 * encodeVersion(300) // Uint8Array [0xac, 0x02]
 * ```
 */
export function encodeVersion(version: number): Uint8Array {
  // Precondition: 1 <= version <= MAX_SCOPE_KEY_VERSION.
  if (!Number.isInteger(version) || version < 1 || version > MAX_SCOPE_KEY_VERSION) {
    throw new RangeError(`scope key version ${version} is out of range`)
  }
  const out = new Uint8Array(varintLength(version))
  writeVarint(out, 0, version)
  return out
}

/**
 * Read the version from a scope-key EDK blob (canonical LEB128, nothing after it).
 *
 * @example
 * ```ts
 * decodeVersion(Uint8Array.of(0xac, 0x02)) // 300
 * ```
 */
export function decodeVersion(blob: Uint8Array): number {
  const [version, end] = readVarint(blob, 0, 'scope key version')
  // Precondition: the blob is exactly one canonical varint >= 1.
  if (end !== blob.length || version < 1) {
    throw new MalformedCiphertextError('the scope key reference is not a single version number')
  }
  return version
}
