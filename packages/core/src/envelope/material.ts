import type { Zeroizable } from '../cache/types.js'
import { commitment, extractPrk } from '../crypto/derive.js'
import { ContentType, type Suite } from '../format/constants.js'
import type { EncodedPair } from '../format/context.js'
import { encodeHeaderPrefix } from '../format/header.js'
import type { EncryptedDataKey } from '../keyring/types.js'

/**
 * What the cache keeps for one data key: the HKDF pseudo-random key (the data key itself is wiped as soon
 * as the PRK is extracted), the key commitment, the wrapped keys and, on the encrypt side, the encoded
 * header prefix, so that encrypting a message costs one HMAC and one AES-GCM pass.
 */
export class DataKeyMaterial implements Zeroizable {
  readonly prk: Buffer
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
    try {
      this.prk = extractPrk(plaintextKey)
    } finally {
      plaintextKey.fill(0)
    }
    this.#suite = suite
    this.commitment = commitment(this.prk)
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
    this.prk.fill(0)
  }
}
