import { Transform, type TransformCallback } from 'node:stream'
import { sealFrame } from '../envelope/frame.js'
import { LimitExceededError } from '../errors/errors.js'
import { FrameMarker, MAX_FRAMES } from '../format/constants.js'

/** What an encrypting stream needs once its data key is ready. */
export interface StreamSealingKey {
  /** The complete header (prefix and nonce). */
  readonly header: Buffer
  readonly nonce: Buffer
  /** The per-message key; the stream wipes it when it ends or is destroyed. */
  readonly messageKey: Buffer
}

const REGULAR_MARKER = Buffer.from([FrameMarker.Regular])

/**
 * A Node.js Transform that writes a framed message: the header, then one regular frame per `frameLength`
 * plaintext bytes, then a final frame (possibly empty) when the input ends. Memory use is one frame.
 * Obtained from `Envelope#encryptStream`.
 */
export class EncryptStream extends Transform {
  readonly #frameLength: number
  readonly #start: () => Promise<StreamSealingKey>
  readonly #maxPlaintextBytes: number
  #key: StreamSealingKey | undefined
  #pending: Buffer[] = []
  #pendingBytes = 0
  #sequence = 0
  #plaintextBytes = 0
  /** Tag of the last regular frame, pushed together with the next frame's marker. */
  #heldTag: Buffer | undefined

  /**
   * `maxPlaintextBytes`: the plaintext length the data key was reserved for (`encryptStream({ plaintextLength })`,
   * counted by the data-key cache); more input fails with LimitExceededError. Default: unlimited.
   */
  constructor(
    frameLength: number,
    start: () => Promise<StreamSealingKey>,
    maxPlaintextBytes = Number.POSITIVE_INFINITY,
  ) {
    super()
    this.#frameLength = frameLength
    this.#start = start
    this.#maxPlaintextBytes = maxPlaintextBytes
  }

  /** Plaintext bytes consumed so far (for progress reporting). */
  get plaintextBytes(): number {
    return this.#plaintextBytes
  }

  override _transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk
    if (this.#key) {
      this.#feed(bytes, callback)
      return
    }
    this.#begin().then((live) => (live ? this.#feed(bytes, callback) : callback()), callback)
  }

  override _flush(callback: TransformCallback): void {
    const finish = () => {
      try {
        const key = this.#key!
        const rest = this.#pending
        const length = this.#pendingBytes
        const held = this.#heldTag?.length ?? 0
        const head = Buffer.allocUnsafe(held + 5)
        if (this.#heldTag) head.set(this.#heldTag, 0)
        this.#heldTag = undefined
        head[held] = FrameMarker.Final
        head.writeUInt32BE(length, held + 1)
        this.push(head)
        sealFrame(key.messageKey, key.nonce, key.header, this.#sequence, true, rest, (b) => this.push(b))
        this.#pending = []
        this.#pendingBytes = 0
        this.#wipe()
        callback()
      } catch (err) {
        callback(err as Error)
      }
    }
    if (this.#key) finish()
    else this.#begin().then((live) => (live ? finish() : callback()), callback)
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.#wipe()
    callback(error)
  }

  /** Get the key and write the header; false when the stream was destroyed meanwhile. */
  async #begin(): Promise<boolean> {
    const key = await this.#start()
    // Postcondition: a key that arrives after destroy() (its KMS call was in flight) is wiped, never used.
    if (this.destroyed) {
      key.messageKey.fill(0)
      return false
    }
    this.#key = key
    this.push(key.header)
    return true
  }

  #feed(bytes: Buffer, callback: TransformCallback): void {
    try {
      // Precondition: no more plaintext than declared (the data-key cache counted only that many bytes).
      if (this.#plaintextBytes + bytes.length > this.#maxPlaintextBytes) {
        throw new LimitExceededError(
          `The stream received more than the ${this.#maxPlaintextBytes} plaintext bytes declared as plaintextLength.`,
          'Pass the exact plaintextLength, or leave it out when the length is not known in advance.',
        )
      }
      this.#plaintextBytes += bytes.length
      this.#pending.push(bytes)
      this.#pendingBytes += bytes.length
      // A full frame is always a regular frame: the final frame is strictly shorter than frameLength.
      while (this.#pendingBytes >= this.#frameLength) this.#sealRegular()
      callback()
    } catch (err) {
      callback(err as Error)
    }
  }

  #sealRegular(): void {
    // Precondition: the frame counter stays within u32 (the final frame needs one more number).
    if (this.#sequence >= MAX_FRAMES - 1) {
      throw new LimitExceededError('The stream exceeds 2^32 - 1 frames.', 'Use a larger frameLength.')
    }
    const pieces: Buffer[] = []
    let need = this.#frameLength
    while (need > 0) {
      const head = this.#pending[0]!
      if (head.length <= need) {
        pieces.push(head)
        this.#pending.shift()
        need -= head.length
      } else {
        pieces.push(head.subarray(0, need))
        this.#pending[0] = head.subarray(need)
        need = 0
      }
    }
    this.#pendingBytes -= this.#frameLength
    const key = this.#key!
    // The previous frame's tag and this frame's marker go out as one small buffer (one push fewer per frame).
    this.push(this.#heldTag ? Buffer.concat([this.#heldTag, REGULAR_MARKER]) : REGULAR_MARKER)
    let last: Buffer | undefined
    sealFrame(key.messageKey, key.nonce, key.header, this.#sequence++, false, pieces, (b) => {
      if (last) this.push(last)
      last = b
    })
    // Postcondition: the last emitted buffer is the tag; it is held until the next frame or the end.
    this.#heldTag = last
  }

  #wipe(): void {
    this.#key?.messageKey.fill(0)
  }
}
