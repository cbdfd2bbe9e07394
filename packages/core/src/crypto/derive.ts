import { type Cipher, createCipheriv, createHmac, timingSafeEqual } from 'node:crypto'
import {
  COMMITMENT_LENGTH,
  DATA_KEY_LENGTH,
  KDF_BLOCK_LABEL,
  LABEL_COMMITMENT,
  LABEL_EXTRACT_SALT,
  LABEL_MESSAGE_KDF_KEY,
  NONCE_LENGTH,
} from '../format/constants.js'

const SALT = Buffer.from(LABEL_EXTRACT_SALT, 'ascii')
const COMMIT_INFO = Buffer.concat([Buffer.from(LABEL_COMMITMENT, 'ascii'), Buffer.from([0x01])])
const KDF_KEY_INFO = Buffer.concat([Buffer.from(LABEL_MESSAGE_KDF_KEY, 'ascii'), Buffer.from([0x01])])
const BLOCK = 16
const ZERO_BLOCK = Buffer.alloc(BLOCK)

/**
 * HKDF-Extract (RFC 5869) with SHA-256: PRK = HMAC-SHA256(salt, IKM). Done once per data key.
 * Precondition: a 32-byte data key.
 */
export function extractPrk(dataKey: Uint8Array): Buffer {
  if (dataKey.length !== DATA_KEY_LENGTH) throw new RangeError('data key must be 32 bytes')
  return createHmac('sha256', SALT).update(dataKey).digest()
}

/**
 * Key commitment: HKDF-Expand(PRK, "kms-envelope/v1/key-commitment", 32), i.e. one HMAC block.
 * The same for every message under a data key; a message carries it and decryption compares it in
 * constant time before using the key, so a ciphertext can only ever decrypt under one data key.
 */
export function commitment(prk: Uint8Array): Buffer {
  return createHmac('sha256', prk).update(COMMIT_INFO).digest()
}

/**
 * Key-derivation key: KX = HKDF-Expand(PRK, "kms-envelope/v1/message-kdf-key", 32), one HMAC block, once
 * per data key. KX is the AES-256-CMAC key of the per-message KDF ({@link MessageKeyDeriver}).
 */
export function kdfKey(prk: Uint8Array): Buffer {
  return createHmac('sha256', prk).update(KDF_KEY_INFO).digest()
}

/** CMAC subkey doubling in GF(2^128) (NIST SP 800-38B, 6.1): shift left one bit, xor 0x87 on carry. */
function dbl(block: Uint8Array): Buffer {
  const out = Buffer.alloc(BLOCK)
  let carry = 0
  for (let i = BLOCK - 1; i >= 0; i--) {
    const b = block[i] as number
    out[i] = ((b << 1) | carry) & 0xff
    carry = b >>> 7
  }
  // Constant-time: the reduction is applied with a mask, not a branch on the secret bit.
  out[BLOCK - 1] = (out[BLOCK - 1] as number) ^ (0x87 & -((block[0] as number) >>> 7))
  return out
}

/**
 * The per-message key derivation of format v1: the key derivation of C2SP XAES-256-GCM, i.e. NIST
 * SP 800-108r1 KDF in counter mode with AES-256-CMAC as PRF, over the message's 12-byte nonce `N`:
 *
 * `K = CMAC(KX, 0x00 0x01 0x58 0x00 || N) || CMAC(KX, 0x00 0x02 0x58 0x00 || N)`.
 *
 * Each input is exactly one block, so CMAC is `AES(KX, M xor K1)` with the subkey `K1 = dbl(AES(KX, 0^128))`
 * (SP 800-38B). One deriver lives as long as its cached data key: it keeps one AES-256-ECB context (no
 * chaining, so each call is independent) and `K1`, and a message key costs one two-block AES call
 * instead of an HMAC (about 0.9 µs against 1.9 µs in Node 20). Synchronous use only.
 *
 * Zeroization: `destroy()` wipes `K1` and drops the AES context; the key schedule inside OpenSSL cannot be
 * wiped from JavaScript and is cleansed by OpenSSL when the context is garbage-collected.
 *
 * @example
 * ```ts
 * const deriver = new MessageKeyDeriver(kdfKey(extractPrk(dataKey)))
 * const key = deriver.derive(nonce) // 32 bytes; wipe it with key.fill(0) when done
 * ```
 */
export class MessageKeyDeriver {
  #aes: Cipher | undefined
  readonly #k1: Buffer
  /** Both KDF input blocks, xored with K1 (the nonce bytes are written in place per call). */
  readonly #input = Buffer.alloc(2 * BLOCK)

  /** Takes a 32-byte key-derivation key `KX` (the caller wipes its copy). */
  constructor(kx: Uint8Array) {
    // Precondition: a 256-bit AES key.
    if (kx.length !== DATA_KEY_LENGTH) throw new RangeError('key-derivation key must be 32 bytes')
    const aes = createCipheriv('aes-256-ecb', kx, null)
    aes.setAutoPadding(false)
    const l = aes.update(ZERO_BLOCK)
    this.#k1 = dbl(l)
    l.fill(0)
    this.#aes = aes
  }

  /** The 32-byte message key for `nonce`. The caller wipes it when the message is done. */
  derive(nonce: Uint8Array): Buffer {
    const aes = this.#aes
    // Precondition: not destroyed, and a 12-byte nonce.
    if (!aes) throw new Error('kms-envelope: message key deriver used after destroy (bug)')
    if (nonce.length !== NONCE_LENGTH) throw new RangeError('nonce must be 12 bytes')
    const input = this.#input
    const k1 = this.#k1
    for (let i = 0; i < 2; i++) {
      const o = i * BLOCK
      input[o] = 0x00 ^ (k1[0] as number)
      input[o + 1] = (i + 1) ^ (k1[1] as number)
      input[o + 2] = KDF_BLOCK_LABEL ^ (k1[2] as number)
      input[o + 3] = 0x00 ^ (k1[3] as number)
      for (let j = 0; j < NONCE_LENGTH; j++) input[o + 4 + j] = (nonce[j] as number) ^ (k1[4 + j] as number)
    }
    const key = aes.update(input)
    input.fill(0)
    // Postcondition: ECB without padding returns exactly its input length.
    if (key.length !== 2 * BLOCK) throw new Error('message key derivation returned a short key (bug)')
    return key
  }

  /** Wipe K1 and release the AES context; derive() fails afterwards. */
  destroy(): void {
    this.#k1.fill(0)
    this.#aes = undefined
  }
}

/** Constant-time comparison of two commitments. */
export function commitmentMatches(expected: Uint8Array, actual: Uint8Array): boolean {
  return (
    actual.length === COMMITMENT_LENGTH &&
    expected.length === COMMITMENT_LENGTH &&
    timingSafeEqual(expected, actual)
  )
}
