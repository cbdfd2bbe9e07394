import { createCipheriv, createDecipheriv } from 'node:crypto'
import type { MessageKeyDeriver } from '../crypto/derive.js'
import { randomNonce } from '../crypto/nonce.js'
import {
  LimitExceededError,
  MalformedCiphertextError,
  TamperedCiphertextError,
  TruncatedCiphertextError,
} from '../errors/errors.js'
import {
  ContentType,
  FrameMarker,
  MAX_FRAMES,
  MAX_SINGLE_PLAINTEXT,
  NONCE_LENGTH,
  TAG_LENGTH,
} from '../format/constants.js'
import type { MessageHeader } from '../format/header.js'
import { frameAadSuffix, openFrame } from './frame.js'

const GCM_OPTIONS = { authTagLength: TAG_LENGTH } as const
const SINGLE_SUFFIX = frameAadSuffix(0, true)

/**
 * Encrypt `plaintext` as a single (non-framed) message: header prefix || nonce || ciphertext || tag.
 * `contextBlock` is given for compact messages only: the encoded context, authenticated after the header
 * but not stored. `nonce` is only passed by the known-answer vectors; normal use draws a random one.
 */
export function sealSingle(
  keys: MessageKeyDeriver,
  headerPrefix: Uint8Array,
  plaintext: Uint8Array,
  contextBlock?: Uint8Array,
  nonce = randomNonce(),
): Buffer {
  // Precondition: within the single-message limit.
  if (plaintext.length > MAX_SINGLE_PLAINTEXT) {
    throw new LimitExceededError(
      `A single message holds at most ${MAX_SINGLE_PLAINTEXT} bytes; got ${plaintext.length}.`,
      'Use encryptStream() for large data.',
    )
  }
  const headerLength = headerPrefix.length + NONCE_LENGTH
  const out = Buffer.allocUnsafe(headerLength + plaintext.length + TAG_LENGTH)
  out.set(headerPrefix, 0)
  out.set(nonce, headerPrefix.length)
  // The additional data is header || u32(0) || 0x01 (frame 0, final). Write that suffix where the ciphertext
  // will go, so that one setAAD call covers it; the ciphertext then overwrites it.
  out.writeUInt32BE(0, headerLength)
  out[headerLength + 4] = 1
  const key = keys.derive(nonce)
  try {
    const cipher = createCipheriv('aes-256-gcm', key, nonce)
    if (contextBlock) {
      // Compact: header || context block || u32(0) || 0x01.
      cipher.setAAD(out.subarray(0, headerLength))
      cipher.setAAD(contextBlock)
      cipher.setAAD(SINGLE_SUFFIX)
    } else cipher.setAAD(out.subarray(0, headerLength + 5))
    const ct = cipher.update(plaintext)
    out.set(ct, headerLength)
    cipher.final()
    out.set(cipher.getAuthTag(), headerLength + ct.length)
    // Postcondition: GCM output is exactly as long as its input.
    if (ct.length !== plaintext.length) throw new Error('sealed length mismatch (bug)')
  } finally {
    key.fill(0)
  }
  return out
}

/**
 * Decrypt the body of a complete in-memory message (single, compact or framed) whose header is `header`;
 * `contextBlock` is the reader's encoded context for compact messages. Returns the plaintext only when
 * every frame authenticated and the final frame was reached.
 */
export function openMessage(
  keys: MessageKeyDeriver,
  header: MessageHeader,
  message: Uint8Array,
  contextBlock?: Uint8Array,
): Buffer {
  const key = keys.derive(header.nonce)
  try {
    const body = message.subarray(header.bytes.length)
    if (header.contentType !== ContentType.Framed) {
      // Precondition: a compact message is opened with the reader's context.
      if (header.contentType === ContentType.Compact && !contextBlock)
        throw new Error('compact message opened without its context (bug)')
      // Precondition: room for the tag.
      if (body.length < TAG_LENGTH)
        throw new TruncatedCiphertextError('The message ends before its authentication tag.')
      const ctLength = body.length - TAG_LENGTH
      const decipher = createDecipheriv('aes-256-gcm', key, header.nonce, GCM_OPTIONS)
      decipher.setAAD(header.bytes)
      if (header.contentType === ContentType.Compact) decipher.setAAD(contextBlock!)
      decipher.setAAD(SINGLE_SUFFIX)
      decipher.setAuthTag(body.subarray(ctLength))
      const plaintext = decipher.update(body.subarray(0, ctLength))
      try {
        decipher.final()
      } catch (cause) {
        // Postcondition: no unauthenticated plaintext survives.
        plaintext.fill(0)
        throw new TamperedCiphertextError('The message failed authentication.', { cause })
      }
      return plaintext
    }
    return openFramedBody(key, header, body)
  } finally {
    key.fill(0)
  }
}

function openFramedBody(key: Uint8Array, header: MessageHeader, body: Uint8Array): Buffer {
  const frameLength = header.frameLength
  const view = Buffer.from(body.buffer, body.byteOffset, body.length)
  const plain: Buffer[] = []
  let o = 0
  let sequence = 0
  try {
    for (;;) {
      // Precondition: the body holds another frame (a framed message always ends with a final frame).
      if (o >= view.length) throw new TruncatedCiphertextError('The message ends before its final frame.')
      if (sequence >= MAX_FRAMES) throw new MalformedCiphertextError('too many frames')
      const marker = view[o++]
      if (marker === FrameMarker.Regular) {
        if (o + frameLength + TAG_LENGTH > view.length)
          throw new TruncatedCiphertextError('The message ends inside a frame.')
        const ct = view.subarray(o, o + frameLength)
        const tag = view.subarray(o + frameLength, o + frameLength + TAG_LENGTH)
        plain.push(...openFrame(key, header.nonce, header.bytes, sequence, false, [ct], tag))
        o += frameLength + TAG_LENGTH
        sequence++
        continue
      }
      if (marker !== FrameMarker.Final) throw new MalformedCiphertextError(`unknown frame marker ${marker}`)
      if (o + 4 > view.length) throw new TruncatedCiphertextError('The message ends inside the final frame.')
      const length = view.readUInt32BE(o)
      o += 4
      // Precondition: the final frame is shorter than a regular frame.
      if (length >= frameLength)
        throw new MalformedCiphertextError('final frame longer than the frame length')
      if (o + length + TAG_LENGTH > view.length)
        throw new TruncatedCiphertextError('The message ends inside the final frame.')
      const ct = view.subarray(o, o + length)
      const tag = view.subarray(o + length, o + length + TAG_LENGTH)
      plain.push(...openFrame(key, header.nonce, header.bytes, sequence, true, [ct], tag))
      o += length + TAG_LENGTH
      // Postcondition: nothing follows the final frame.
      if (o !== view.length) throw new MalformedCiphertextError('bytes follow the final frame')
      return Buffer.concat(plain)
    }
  } catch (err) {
    for (const b of plain) b.fill(0)
    throw err
  }
}
