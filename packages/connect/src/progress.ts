/**
 * Byte counting for recording pipelines: a pass-through stage that reports how many bytes went by.
 */
import { Transform, type TransformCallback } from 'node:stream'

/**
 * Progress of a recording pipeline.
 *
 * @example
 * ```ts
 * await connect.sealRecording(account, contactId, src, dst, {
 *   onProgress: (p: RecordingProgress) => console.log(p.plaintextBytes),
 * })
 * ```
 */
export interface RecordingProgress {
  /** Plaintext bytes encrypted (sealRecording) or released after authentication (openRecording) so far. */
  readonly plaintextBytes: number
  /** Ciphertext bytes written (sealRecording) or read (openRecording) so far. */
  readonly ciphertextBytes: number
}

/**
 * A pass-through Transform that counts the bytes flowing through it and calls `onBytes(total)` per chunk.
 * Holds no data: memory stays one chunk.
 *
 * @example
 * ```ts
 * await pipeline(source, byteCounter((n) => console.log(n)), destination)
 * ```
 */
export function byteCounter(onBytes: (total: number) => void): Transform {
  let total = 0
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      total += chunk.length
      onBytes(total)
      callback(null, chunk)
    },
  })
}
