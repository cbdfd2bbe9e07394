/**
 * The limit: bare AES-256-GCM from node:crypto, no key management, no header. A message is
 * IV (12) ‖ ciphertext ‖ tag (16).
 */
import { createCipheriv, createDecipheriv, type DecipherGCM, randomBytes } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'

const IV_LENGTH = 12
const TAG_LENGTH = 16

/**
 * Encrypt one message with a random 12-byte IV.
 *
 * @example
 * ```ts
 * const msg = rawEncrypt(randomBytes(32), Buffer.from('hello'))
 * ```
 */
export function rawEncrypt(key: Uint8Array, plaintext: Uint8Array): Buffer {
  const iv = randomBytes(IV_LENGTH)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const body = cipher.update(plaintext)
  cipher.final()
  return Buffer.concat([iv, body, cipher.getAuthTag()])
}

/**
 * Decrypt and authenticate a message from {@link rawEncrypt}.
 *
 * @example
 * ```ts
 * const pt = rawDecrypt(key, rawEncrypt(key, data))
 * ```
 */
export function rawDecrypt(key: Uint8Array, message: Uint8Array): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, message.subarray(0, IV_LENGTH))
  decipher.setAuthTag(message.subarray(message.length - TAG_LENGTH))
  const plaintext = decipher.update(message.subarray(IV_LENGTH, message.length - TAG_LENGTH))
  decipher.final()
  return plaintext
}

/**
 * A Transform running one AES-256-GCM over the whole stream, chunk by chunk: IV first, tag last.
 *
 * @example
 * ```ts
 * await pipeline(source, rawEncryptStream(key), sink)
 * ```
 */
export function rawEncryptStream(key: Uint8Array): Transform {
  const iv = randomBytes(IV_LENGTH)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  let started = false
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (!started) {
        started = true
        this.push(iv)
      }
      done(null, cipher.update(chunk))
    },
    flush(done: TransformCallback) {
      if (!started) this.push(iv)
      cipher.final()
      done(null, cipher.getAuthTag())
    },
  })
}

/**
 * The inverse of {@link rawEncryptStream}. It releases plaintext before the tag is checked (only the end of
 * the stream authenticates): the limit for speed, not a safe design. Holds back the last 16 bytes (the tag).
 *
 * @example
 * ```ts
 * await pipeline(Readable.from(chunks), rawDecryptStream(key), sink)
 * ```
 */
export function rawDecryptStream(key: Uint8Array): Transform {
  let head = Buffer.alloc(0)
  let decipher: DecipherGCM | undefined
  let tail = Buffer.alloc(0)
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      let data = chunk
      if (!decipher) {
        head = Buffer.concat([head, data])
        if (head.length < IV_LENGTH) return done()
        decipher = createDecipheriv('aes-256-gcm', key, head.subarray(0, IV_LENGTH))
        data = head.subarray(IV_LENGTH)
      }
      // Keep the last TAG_LENGTH bytes seen (they may be the tag); decrypt the rest without copying it.
      if (data.length < TAG_LENGTH) {
        const all = Buffer.concat([tail, data])
        const cut = Math.max(0, all.length - TAG_LENGTH)
        tail = Buffer.from(all.subarray(cut))
        return done(null, cut > 0 ? decipher.update(all.subarray(0, cut)) : undefined)
      }
      if (tail.length) this.push(decipher.update(tail))
      const cut = data.length - TAG_LENGTH
      tail = Buffer.from(data.subarray(cut))
      done(null, decipher.update(data.subarray(0, cut)))
    },
    flush(done: TransformCallback) {
      if (!decipher || tail.length !== TAG_LENGTH) return done(new Error('raw stream: truncated'))
      decipher.setAuthTag(tail)
      decipher.final()
      done()
    },
  })
}
