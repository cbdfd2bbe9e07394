import { createCipheriv, createDecipheriv } from 'node:crypto'
import { frameIv } from '../crypto/nonce.js'
import { TamperedCiphertextError } from '../errors/errors.js'
import { TAG_LENGTH } from '../format/constants.js'

/**
 * Additional data of frame `sequence`: the whole header, then the u32 big-endian sequence number, then
 * 0x01 for the final frame or 0x00 for a regular one. Binding the sequence and finality makes reordering,
 * deletion and truncation of frames fail authentication.
 */
export function frameAadSuffix(sequence: number, final: boolean): Buffer {
  const suffix = Buffer.allocUnsafe(5)
  suffix.writeUInt32BE(sequence, 0)
  suffix[4] = final ? 1 : 0
  return suffix
}

const SINGLE_SUFFIX = frameAadSuffix(0, true)
const _GCM_OPTIONS = { authTagLength: TAG_LENGTH } as const

/**
 * Encrypt one frame (a single message is frame 0, final). Calls `emit` with ciphertext pieces then the tag.
 */
export function sealFrame(
  messageKey: Uint8Array,
  nonce: Uint8Array,
  header: Uint8Array,
  sequence: number,
  final: boolean,
  pieces: readonly Uint8Array[],
  emit: (bytes: Buffer) => void,
): void {
  const cipher = createCipheriv('aes-256-gcm', messageKey, frameIv(nonce, sequence))
  cipher.setAAD(header)
  cipher.setAAD(sequence === 0 && final ? SINGLE_SUFFIX : frameAadSuffix(sequence, final))
  for (const piece of pieces) {
    const out = cipher.update(piece)
    if (out.length > 0) emit(out)
  }
  const rest = cipher.final()
  if (rest.length > 0) emit(rest)
  emit(cipher.getAuthTag())
}

/**
 * Decrypt and authenticate one frame. Returns the plaintext only after the tag verified; on failure the
 * partial plaintext is wiped and TamperedCiphertextError is thrown.
 */
export function openFrame(
  messageKey: Uint8Array,
  nonce: Uint8Array,
  header: Uint8Array,
  sequence: number,
  final: boolean,
  pieces: readonly Uint8Array[],
  tag: Uint8Array,
): Buffer[] {
  // Precondition: a full-length tag (GCM would otherwise accept truncated tags).
  if (tag.length !== TAG_LENGTH) throw new TamperedCiphertextError('The authentication tag is truncated.')
  const decipher = createDecipheriv('aes-256-gcm', messageKey, frameIv(nonce, sequence), {
    authTagLength: TAG_LENGTH,
  })
  decipher.setAAD(header)
  decipher.setAAD(sequence === 0 && final ? SINGLE_SUFFIX : frameAadSuffix(sequence, final))
  decipher.setAuthTag(tag)
  const out: Buffer[] = []
  for (const piece of pieces) {
    const plain = decipher.update(piece)
    if (plain.length > 0) out.push(plain)
  }
  try {
    const rest = decipher.final()
    if (rest.length > 0) out.push(rest)
  } catch (cause) {
    // Postcondition: no unauthenticated plaintext survives.
    for (const b of out) b.fill(0)
    throw new TamperedCiphertextError(`Frame ${sequence} failed authentication.`, { cause })
  }
  return out
}
