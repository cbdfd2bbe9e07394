import { createHmac, timingSafeEqual } from 'node:crypto'
import {
  COMMITMENT_LENGTH,
  DATA_KEY_LENGTH,
  LABEL_COMMITMENT,
  LABEL_EXTRACT_SALT,
  LABEL_MESSAGE_KEY,
  NONCE_LENGTH,
} from '../format/constants.js'

const SALT = Buffer.from(LABEL_EXTRACT_SALT, 'ascii')
const COMMIT_INFO = Buffer.concat([Buffer.from(LABEL_COMMITMENT, 'ascii'), Buffer.from([0x01])])
const MESSAGE_INFO = Buffer.from(LABEL_MESSAGE_KEY, 'ascii')
/** info || nonce || 0x01, with the nonce written in place per call (synchronous use only). */
const MESSAGE_SCRATCH = Buffer.concat([MESSAGE_INFO, Buffer.alloc(NONCE_LENGTH), Buffer.from([0x01])])

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
 * Per-message key: HKDF-Expand(PRK, "kms-envelope/v1/message-key" || nonce, 32), one HMAC per message.
 * Every message gets its own AES-256-GCM key, so a cached data key can serve many messages and the GCM
 * limits apply per message, not per data key.
 */
export function messageKey(prk: Uint8Array, nonce: Uint8Array): Buffer {
  // Precondition: a 12-byte nonce.
  if (nonce.length !== NONCE_LENGTH) throw new RangeError('nonce must be 12 bytes')
  // One update call over info || nonce || 0x01 (the scratch buffer holds no secret: the nonce is public).
  MESSAGE_SCRATCH.set(nonce, MESSAGE_INFO.length)
  return createHmac('sha256', prk).update(MESSAGE_SCRATCH).digest()
}

/** Constant-time comparison of two commitments. */
export function commitmentMatches(expected: Uint8Array, actual: Uint8Array): boolean {
  return (
    actual.length === COMMITMENT_LENGTH &&
    expected.length === COMMITMENT_LENGTH &&
    timingSafeEqual(expected, actual)
  )
}
