/**
 * The contract between the envelope (format, cache, streaming) and whatever wraps data keys:
 * AWS KMS keys (`KmsKeyring`) or scope keys in a key store (`ScopeKeyring`). Adapters and
 * other wrapping schemes implement {@link Keyring}; nothing else in the envelope knows about KMS.
 */

/** An encryption context: non-secret string pairs bound to the ciphertext (AAD) and to the KMS call. */
export type EncryptionContext = Readonly<Record<string, string>>

/** Wrapping types known to format v1 (see docs/FORMAT.md, "Encrypted data keys"). */
export const WrappingType = {
  /** `keyId` is the KMS key ARN; `blob` is the KMS `CiphertextBlob` of the data key. */
  AwsKms: 1,
  /** `keyId` is a scope id; `blob` is the scope key version (unsigned LEB128). The key is in a key store. */
  ScopeKey: 2,
} as const
export type WrappingType = (typeof WrappingType)[keyof typeof WrappingType]

/** One wrapped copy of a data key, as carried in a message header. */
export interface EncryptedDataKey {
  readonly type: WrappingType
  /** Key identifier (KMS key ARN for `AwsKms`, scope id for `ScopeKey`); UTF-8, at most 2048 bytes. */
  readonly keyId: string
  /** Opaque wrapped key (KMS ciphertext blob) or reference; at most 4096 bytes. */
  readonly blob: Uint8Array
}

/** A fresh data key from {@link Keyring.generateDataKey}. The envelope owns `plaintextKey` and zeroizes it. */
export interface GeneratedDataKey {
  /** 32 bytes. */
  readonly plaintextKey: Uint8Array
  /** At least one wrapped copy; all wrap the same `plaintextKey`. */
  readonly encryptedDataKeys: readonly EncryptedDataKey[]
  /** Epoch ms after which this key must not encrypt new messages (time-limited keys); optional. */
  readonly notAfter?: number
}

/** A data key recovered by {@link Keyring.decryptDataKey}. The envelope owns `plaintextKey` and zeroizes it. */
export interface DecryptedDataKey {
  /** 32 bytes. */
  readonly plaintextKey: Uint8Array
  /** The wrapped copy that was used. */
  readonly encryptedDataKey: EncryptedDataKey
}

/** Something that produces and recovers 256-bit data keys. */
export interface Keyring {
  /**
   * A stable string naming this keyring's configuration (wrapping key ids, mode). Cached data keys are
   * partitioned by it, so two keyrings with different keys never share a cached data key.
   */
  readonly partition: string
  /** Generate a new data key for `context`, wrapped under every configured wrapping key. */
  generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey>
  /**
   * Recover the data key from one of `encryptedDataKeys` (try them in order, honouring the keyring's
   * allow-list). Throws a typed error (access denied, disabled key, …) when none can be used.
   */
  decryptDataKey(
    encryptedDataKeys: readonly EncryptedDataKey[],
    context: EncryptionContext,
  ): Promise<DecryptedDataKey>
  /**
   * Optional. The part of `context` this keyring's data keys depend on, as a string (scope keys: the scope
   * id). When present, the envelope caches one data key per returned value instead of one per full context,
   * and on decryption reuses a data key for every message with the same wrapped keys whatever its other
   * pairs. Every pair is still authenticated by each message. Implement it only if `generateDataKey` and
   * `decryptDataKey` ignore the other pairs (a `KmsKeyring` does only with `kmsContext`; otherwise KMS
   * binds the whole context).
   */
  dataKeyScope?(context: EncryptionContext): string
}
