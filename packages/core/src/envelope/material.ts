import type { Zeroizable } from '../cache/types.js'
import { commitment, extractPrk, kdfKey, MessageKeyDeriver } from '../crypto/derive.js'
import { ContentType, type Suite } from '../format/constants.js'
import type { EncodedPair } from '../format/context.js'
import { encodeHeaderPrefix } from '../format/header.js'
import type { EncryptedDataKey } from '../keyring/types.js'

/**
 * What the cache keeps for one data key: the per-message key deriver (the data key, its HKDF PRK and the
 * key-derivation key are wiped as soon as the deriver is set up), the key commitment, the wrapped keys and,
 * on the encrypt side, the encoded header prefix, so that encrypting a message costs one two-block AES
 * call and one AES-GCM pass.
 */
export class DataKeyMaterial implements Zeroizable {
  readonly messageKeys: MessageKeyDeriver
  readonly commitment: Buffer
  readonly encryptedDataKeys: readonly EncryptedDataKey[]
  /** Header without nonce for single messages (encrypt side only). */
  readonly singleHeaderPrefix: Buffer | undefined
  readonly #pairs: readonly EncodedPair[]
  readonly #suite: Suite
  #zeroized = false

  /** Takes ownership of `plaintextKey` and zeroizes it. */
  constructor(
    suite: Suite,
    plaintextKey: Uint8Array,
    encryptedDataKeys: readonly EncryptedDataKey[],
    pairs: readonly EncodedPair[] | undefined,
  ) {
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
    this.#pairs = pairs ?? []
    this.singleHeaderPrefix = pairs === undefined ? undefined : this.headerPrefix(ContentType.Single, 0)
  }

  /** Encode the header prefix (everything but the nonce) for this data key and context. */
  headerPrefix(contentType: ContentType, frameLength: number): Buffer {
    return encodeHeaderPrefix({
      suite: this.#suite,
      contentType,
      frameLength,
      pairs: this.#pairs,
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
  }
}
