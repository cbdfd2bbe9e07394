import { EncryptionContextMismatchError } from '../errors/errors.js'
import type { EncryptionContext } from '../keyring/types.js'

/**
 * Require every pair of `expected` in the message's context (EncryptionContextMismatchError otherwise).
 * `Envelope#decrypt` checks it before any KMS call, and authentication checks it again implicitly (the
 * context is part of the authenticated header). Exported for readers of other formats that want the same rule.
 *
 * @example
 * ```ts
 * import { assertExpectedContext } from '@kms-envelope/core'
 * assertExpectedContext({ tenant: 'acme', table: 'orders' }, { tenant: 'acme' }) // passes
 * assertExpectedContext({ tenant: 'acme' }, { tenant: 'globex' }) // throws EncryptionContextMismatchError
 * ```
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
 *
 * @example
 * ```ts
 * import { assertExactContext } from '@kms-envelope/core'
 * assertExactContext({ tenant: 'acme' }, { tenant: 'acme' }) // passes
 * assertExactContext({ tenant: 'acme', extra: '1' }, { tenant: 'acme' }) // throws EncryptionContextMismatchError
 * ```
 */
export function assertExactContext(actual: EncryptionContext, expected: EncryptionContext): void {
  assertExpectedContext(actual, expected)
  for (const key of Object.keys(actual)) {
    // Precondition: no pair beyond the expected ones.
    if (!Object.hasOwn(expected, key))
      throw new EncryptionContextMismatchError(key, 'the message has a pair the given context does not')
  }
}
