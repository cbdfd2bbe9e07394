import { EncryptionContextMismatchError } from '../errors/errors.js'
import type { EncryptionContext } from '../keyring/types.js'

/**
 * Require every pair of `expected` in the message's context. Checked before any KMS call, and again
 * implicitly by authentication (the context is part of the authenticated header).
 */
export function assertExpectedContext(
  actual: EncryptionContext,
  expected: EncryptionContext | undefined,
): void {
  if (expected === undefined) return
  for (const key of Object.keys(expected)) {
    // Precondition: the key is present with the expected value.
    if (!Object.hasOwn(actual, key))
      throw new EncryptionContextMismatchError(key, 'the message has no such key')
    if (actual[key] !== expected[key]) {
      throw new EncryptionContextMismatchError(key, 'the message has a different value')
    }
  }
}

/**
 * Require the message's context to be exactly `expected`: every expected pair present with its value and no
 * other pair. Checked before any KMS call.
 */
export function assertExactContext(actual: EncryptionContext, expected: EncryptionContext): void {
  assertExpectedContext(actual, expected)
  for (const key of Object.keys(actual)) {
    // Precondition: no pair beyond the expected ones.
    if (!Object.hasOwn(expected, key))
      throw new EncryptionContextMismatchError(key, 'the message has a pair the given context does not')
  }
}
