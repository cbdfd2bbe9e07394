import { clip } from '../errors/clip.js'
import { ConfigurationError, KeyStoreError } from '../errors/errors.js'
import {
  type DecryptedDataKey,
  type EncryptedDataKey,
  type EncryptionContext,
  type GeneratedDataKey,
  type Keyring,
  WrappingType,
} from '../keyring/types.js'
import { decodeVersion, encodeVersion } from './binding.js'
import { assertScopeId } from './scope-id.js'
import type { ScopeKeys } from './scope-keys.js'

/** Which scope a {@link ScopeKeyring} serves: one fixed scope, or the value of a context key. */
export type ScopeSelector = string | { readonly contextKey: string }

/**
 * A {@link Keyring} whose data keys are scope keys from a key store (get one from
 * {@link KeyHierarchy.keyring}). Messages carry `(scope id, version)` instead of a KMS blob; the envelope's
 * data-key cache holds the unwrapped scope key (bounded, single-flight, zeroized), so a warm process makes no
 * KMS call per message, and a new window's version is used as soon as the old one's window ends
 * (`notAfter`).
 *
 * With `{ contextKey }` the scope is the value of that encryption-context key, so one envelope serves every
 * scope, and decryption refuses a message whose scope key does not belong to the scope named in its
 * authenticated context.
 *
 * @example
 * ```ts
 * const envelope = new Envelope({ keyring: hierarchy.keyring({ contextKey: 'instance' }) })
 * const ct = await envelope.encrypt('caller said …', { context: { instance: 'i-123' } })
 * ```
 */
export class ScopeKeyring implements Keyring {
  readonly partition: string
  readonly #keys: ScopeKeys
  readonly #scopeId: string | undefined
  readonly #contextKey: string | undefined

  /** @internal Use {@link KeyHierarchy.keyring}. */
  constructor(keys: ScopeKeys, selector: ScopeSelector) {
    this.#keys = keys
    if (typeof selector === 'string') {
      this.#scopeId = assertScopeId(selector)
      this.partition = `kms-envelope:scope\u0000${keys.config.rootKeyId}\u0000id\u0000${selector}`
    } else {
      // Precondition: a non-empty context key.
      if (typeof selector?.contextKey !== 'string' || selector.contextKey.length === 0) {
        throw new ConfigurationError(
          'keyring() needs a scope id or { contextKey }.',
          "Pass a scope id ('customer-42') or { contextKey: 'tenant' }.",
        )
      }
      this.#contextKey = selector.contextKey
      this.partition = `kms-envelope:scope\u0000${keys.config.rootKeyId}\u0000ctx\u0000${selector.contextKey}`
    }
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const scopeId = this.#scopeOf(context)
    const { plaintext, record } = await this.#keys.currentKey(scopeId)
    return {
      plaintextKey: plaintext,
      encryptedDataKeys: [
        { type: WrappingType.ScopeKey, keyId: scopeId, blob: encodeVersion(record.version) },
      ],
      ...(record.windowEnd === null ? {} : { notAfter: record.windowEnd }),
    }
  }

  async decryptDataKey(
    encryptedDataKeys: readonly EncryptedDataKey[],
    context: EncryptionContext,
  ): Promise<DecryptedDataKey> {
    const scopeId = this.#scopeOf(context)
    for (const edk of encryptedDataKeys) {
      // Precondition: a scope-key reference to this keyring's scope.
      if (edk.type !== WrappingType.ScopeKey || edk.keyId !== scopeId) continue
      const version = decodeVersion(edk.blob)
      const plaintextKey = await this.#keys.unwrap(scopeId, version)
      return { plaintextKey, encryptedDataKey: edk }
    }
    const found = encryptedDataKeys.map((e) =>
      e.type === WrappingType.ScopeKey ? `scope "${clip(e.keyId)}"` : 'a KMS key',
    )
    throw new KeyStoreError(
      'NOT_FOUND',
      `The message is not encrypted under a key of scope "${scopeId}" (it references ${found.join(', ') || 'no key'}).`,
      'Decrypt it with the keyring of the scope it belongs to (or a KmsKeyring for KMS-wrapped messages).',
    )
  }

  /**
   * The scope a context selects: the data key depends on nothing else, so the envelope caches one key per
   * scope however many distinct contexts (e.g. per contact) are encrypted under it.
   */
  dataKeyScope(context: EncryptionContext): string {
    return this.#scopeOf(context)
  }

  #scopeOf(context: EncryptionContext): string {
    if (this.#scopeId !== undefined) return this.#scopeId
    const scopeId = context[this.#contextKey!]
    // Precondition: the context names the scope.
    if (scopeId === undefined) {
      throw new ConfigurationError(
        `The encryption context has no "${this.#contextKey}" pair, which names the scope.`,
        `Pass { context: { ${this.#contextKey}: '<scope id>' } } to encrypt and decrypt.`,
      )
    }
    return assertScopeId(scopeId)
  }
}
