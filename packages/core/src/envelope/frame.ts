import { createCipheriv, createDecipheriv, type DecipherGCM } from 'node:crypto'
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
 * Decrypts one frame piece by piece as its ciphertext arrives, keeping the plaintext until the tag
 * authenticates it: a stream then holds one frame of plaintext, not also its ciphertext. Nothing it decrypted
 * leaves it before {@link FrameOpener.finish} verified the tag; on failure or {@link FrameOpener.abort} the
 * held plaintext is wiped.
 */
export class FrameOpener {
  readonly #decipher: DecipherGCM
  readonly #sequence: number
  #plain: Buffer[] = []

  constructor(
    messageKey: Uint8Array,
    nonce: Uint8Array,
    header: Uint8Array,
    sequence: number,
    final: boolean,
  ) {
    this.#sequence = sequence
    this.#decipher = createDecipheriv('aes-256-gcm', messageKey, frameIv(nonce, sequence), {
      authTagLength: TAG_LENGTH,
    })
    this.#decipher.setAAD(header)
    this.#decipher.setAAD(sequence === 0 && final ? SINGLE_SUFFIX : frameAadSuffix(sequence, final))
  }

  /** Decrypt the next piece of ciphertext (held, not released). */
  update(piece: Uint8Array): void {
    const plain = this.#decipher.update(piece)
    if (plain.length > 0) this.#plain.push(plain)
  }

  /** Check the tag; returns the frame's plaintext, or wipes it and throws TamperedCiphertextError. */
  finish(tag: Uint8Array): Buffer[] {
    try {
      // Precondition: a full-length tag (GCM would otherwise accept truncated tags).
      if (tag.length !== TAG_LENGTH) throw new TamperedCiphertextError('The authentication tag is truncated.')
      this.#decipher.setAuthTag(tag)
      const rest = this.#decipher.final()
      if (rest.length > 0) this.#plain.push(rest)
    } catch (cause) {
      // Postcondition: no unauthenticated plaintext survives.
      this.abort()
      if (cause instanceof TamperedCiphertextError) throw cause
      throw new TamperedCiphertextError(`Frame ${this.#sequence} failed authentication.`, { cause })
    }
    const out = this.#plain
    this.#plain = []
    return out
  }

  /** Wipe what was decrypted so far (the frame will not be finished). */
  abort(): void {
    for (const b of this.#plain) b.fill(0)
    this.#plain = []
  }
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
  // Precondition: a full-length tag, checked before any work.
  if (tag.length !== TAG_LENGTH) throw new TamperedCiphertextError('The authentication tag is truncated.')
  const opener = new FrameOpener(messageKey, nonce, header, sequence, final)
  for (const piece of pieces) opener.update(piece)
  return opener.finish(tag)
}
