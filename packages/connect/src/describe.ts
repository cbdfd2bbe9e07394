/**
 * Which key protects a stored Connect message, read from its header without any key or KMS call.
 */
import { type EncryptionContext, inspect } from '@kms-envelope/core'
import { type ConnectDataClass, DATA_CLASS_KEY, DATA_CLASSES } from './binding.js'

/**
 * What protects a message: a versioned scope key, or a KMS key wrapping its data key.
 *
 * @example
 * ```ts
 * const [key]: readonly ProtectingKey[] = describeProtection(ct).keys
 * if (key?.type === 'scope-key') console.log(key.scope, key.version)
 * ```
 */
export type ProtectingKey =
  | { readonly type: 'scope-key'; readonly scope: string; readonly version: number | undefined }
  | { readonly type: 'aws-kms'; readonly keyId: string }

/**
 * The result of {@link describeProtection}. Not authenticated until the message is decrypted.
 *
 * @example
 * ```ts
 * const p: Protection = describeProtection(ct)
 * console.log(p.dataClass, p.context, p.headerLength)
 * ```
 */
export interface Protection {
  /** The data class the header names, if it is a Connect message. */
  readonly dataClass: ConnectDataClass | undefined
  readonly context: EncryptionContext
  readonly keys: readonly ProtectingKey[]
  /** True for a framed (streamed) message, e.g. a recording. */
  readonly framed: boolean
  /** Bytes of the message header (the body starts there). */
  readonly headerLength: number
}

/**
 * Read a message header (or just the first bytes of a stored recording): its data class, context and the
 * key that protects it — scope and version for PII and integration config, the KMS key ARN for
 * recordings and voiceprints. No key and no KMS call needed; the values are not yet authenticated.
 *
 * @example
 * ```ts
 * import { describeProtection } from '@kms-envelope/connect'
 * const p = describeProtection(ciphertext)
 * // { dataClass: 'contact-pii', keys: [{ type: 'scope-key', scope: 'connect-pii/i-123', version: 4 }], … }
 * ```
 */
export function describeProtection(message: Uint8Array): Protection {
  const info = inspect(message)
  const dataClass = info.context[DATA_CLASS_KEY]
  return {
    dataClass: DATA_CLASSES.find((c): c is ConnectDataClass => c === dataClass),
    context: info.context,
    framed: info.framed,
    headerLength: info.headerLength,
    keys: info.encryptedDataKeys.map((k) =>
      k.type === 'scope-key'
        ? { type: 'scope-key' as const, scope: k.keyId, version: k.version }
        : { type: 'aws-kms' as const, keyId: k.keyId },
    ),
  }
}
