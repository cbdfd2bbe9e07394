import { randomFillSync } from 'node:crypto'
import { NONCE_LENGTH } from '../format/constants.js'

const POOL_NONCES = 256
const pool = Buffer.alloc(NONCE_LENGTH * POOL_NONCES)
let next = POOL_NONCES

/**
 * A fresh 96-bit random nonce from the CSPRNG. Nonces are drawn from a pool refilled by one
 * `randomFillSync` call per 256 nonces (a syscall per message costs more than the encryption of a small
 * one); each pool slot is used exactly once. Nonces are public, so pooling them exposes nothing.
 */
export function randomNonce(): Buffer {
  if (next === POOL_NONCES) {
    randomFillSync(pool)
    next = 0
  }
  const start = next++ * NONCE_LENGTH
  return Buffer.from(pool.subarray(start, start + NONCE_LENGTH))
}

/**
 * Per-frame IV: the message nonce with its last four bytes XORed with the big-endian frame sequence number
 * (as TLS 1.3 builds record nonces). Frame 0 uses the nonce itself. Unique within a message, and every
 * message has its own key.
 */
export function frameIv(nonce: Uint8Array, sequence: number): Buffer {
  const iv = Buffer.from(nonce)
  iv.writeUInt32BE((iv.readUInt32BE(8) ^ sequence) >>> 0, 8)
  return iv
}
