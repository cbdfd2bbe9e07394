import type { Zeroizable } from '../cache/types.js'
import { commitment, extractPrk, kdfKey, MessageKeyDeriver } from '../crypto/derive.js'
import { ContentType, type Suite } from '../format/constants.js'
import type { EncodedPair } from '../format/context.js'
import { encodeHeaderPrefix } from '../format/header.js'
import type { EncryptedDataKey } from '../keyring/types.js'

/**
 * Single-message header prefixes kept per material. One for a KMS data key (its context is fixed); for a
 * keyring whose data key does not depend on the whole context (scope keys), one per context seen, bounded:
 * when full the memo starts over (a prefix costs about a microsecond to encode again).
 */
const MAX_PREFIXES = 64

/**
 * What the cache keeps for one data key: the per-message key deriver (the data key, its HKDF PRK and the
 * key-derivation key are wiped as soon as the deriver is set up), the key commitment, the wrapped keys and,
 * on the encrypt side, encoded header prefixes, so that encrypting a message costs one two-block AES call
 * and one AES-GCM pass.
 */
export class DataKeyMaterial implements Zeroizable {
  readonly messageKeys: MessageKeyDeriver
  readonly commitment: Buffer
  readonly encryptedDataKeys: readonly EncryptedDataKey[]
  readonly #suite: Suite
  readonly #singlePrefixes = new Map<string, Buffer>()
  #compactPrefix: Buffer | undefined
  #zeroized = false

  /** Takes ownership of `plaintextKey` and zeroizes it. */
  constructor(suite: Suite, plaintextKey: Uint8Array, encryptedDataKeys: readonly EncryptedDataKey[]) {
    let prk: Buffer | undefined
    let kx: Buffer | undefined
    try {
      prk = extractPrk(plaintextKey)
      this.commitment = commitment(prk)
      kx = kdfKey(prk)
      this.messageKeys = new MessageKeyDeriver(kx)
    } finally {
      plaintextKey.fill(0)
      prk?.fill(0)
      kx?.fill(0)
    }
    this.#suite = suite
    this.encryptedDataKeys = encryptedDataKeys
  }

  /**
   * The header prefix (everything but the nonce) of a single message with this context; `contextId` is the
   * canonical context's id (the memo key).
   */
  singlePrefix(contextId: string, pairs: readonly EncodedPair[]): Buffer {
    let prefix = this.#singlePrefixes.get(contextId)
    if (!prefix) {
      if (this.#singlePrefixes.size >= MAX_PREFIXES) this.#singlePrefixes.clear()
      prefix = this.headerPrefix(pairs, ContentType.Single, 0)
      this.#singlePrefixes.set(contextId, prefix)
    }
    return prefix
  }

  /** The compact header prefix (no context, no key id): the same for every context. */
  compactPrefix(): Buffer {
    let prefix = this.#compactPrefix
    if (!prefix) {
      prefix = this.headerPrefix([], ContentType.Compact, 0)
      this.#compactPrefix = prefix
    }
    return prefix
  }

  /** Encode the header prefix (everything but the nonce) for this data key and context. */
  headerPrefix(pairs: readonly EncodedPair[], contentType: ContentType, frameLength: number): Buffer {
    return encodeHeaderPrefix({
      suite: this.#suite,
      contentType,
      frameLength,
      pairs,
      encryptedDataKeys: this.encryptedDataKeys,
      commitment: this.commitment,
    })
  }

  /** True once zeroize() ran; a zeroized material must never be used (a Postcondition of every lease). */
  get zeroized(): boolean {
    return this.#zeroized
  }

  zeroize(): void {
    this.#zeroized = true
    this.messageKeys.destroy()
    this.#singlePrefixes.clear()
  }
}
