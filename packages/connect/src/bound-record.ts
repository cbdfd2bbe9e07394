/**
 * Binding a record to one resource (a contact, an integration) inside the authenticated plaintext instead
 * of the encryption context. Why: core caches a data key per distinct encryption context, so a context
 * naming the contact would cost one KMS call per contact; the instance's scope key must instead be reused
 * for every contact of the instance within its window. The owner id inside the plaintext is as tamper-proof
 * as the context (AES-GCM authenticates both); it is checked right after decryption.
 */
import { EncryptionContextMismatchError, MalformedCiphertextError } from '@kms-envelope/core'

/** The plaintext layout of a bound record (JSON). `v` is the layout version. */
interface BoundRecord {
  readonly v: 1
  /** Field name → id the record belongs to, e.g. `{ 'connect:contact': 'c-1' }`. */
  readonly owner: Readonly<Record<string, string>>
  readonly data: unknown
}

/**
 * Wrap `data` with the ids it belongs to.
 *
 * @example
 * ```ts
 * const value = bind({ 'connect:contact': 'c-1' }, { phone: '+1 555 0100' })
 * ```
 */
export function bind(owner: Readonly<Record<string, string>>, data: unknown): BoundRecord {
  return { v: 1, owner: { ...owner }, data }
}

/**
 * Return the data of a decrypted bound record after checking it belongs to `owner`: a record of another
 * contact or integration → EncryptionContextMismatchError (nothing of its data is returned).
 *
 * @example
 * ```ts
 * const data = unbind(await envelope.decryptJson(ct), { 'connect:contact': 'c-1' })
 * ```
 */
export function unbind(value: unknown, owner: Readonly<Record<string, string>>): unknown {
  // Precondition: the layout this package writes.
  if (
    typeof value !== 'object' ||
    value === null ||
    (value as BoundRecord).v !== 1 ||
    typeof (value as BoundRecord).owner !== 'object' ||
    (value as BoundRecord).owner === null ||
    !('data' in value)
  ) {
    throw new MalformedCiphertextError('the decrypted record is not an @kms-envelope/connect record')
  }
  const record = value as BoundRecord
  for (const [key, expected] of Object.entries(owner)) {
    // Postcondition: the record belongs to the resource the caller asked for.
    if (record.owner[key] !== expected) {
      throw new EncryptionContextMismatchError(
        key,
        `the record belongs to ${key} "${String(record.owner[key])}", not "${expected}"`,
      )
    }
  }
  return record.data
}
