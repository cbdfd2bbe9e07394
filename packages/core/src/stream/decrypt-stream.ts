import { Transform, type TransformCallback } from 'node:stream'
import { FrameOpener, openFrame } from '../envelope/frame.js'
import { LimitExceededError, MalformedCiphertextError, TruncatedCiphertextError } from '../errors/errors.js'
import { ContentType, FrameMarker, MAX_FRAMES, TAG_LENGTH } from '../format/constants.js'
import { IncompleteHeader, type MessageHeader, parseHeader } from '../format/header.js'

/** Resolves the per-message key for a parsed header (checks expected context, unwraps, verifies commitment). */
export type OpenKeyResolver = (header: MessageHeader) => Promise<Buffer>

/**
 * A Node.js Transform that decrypts a message produced by `encryptStream` (or `encrypt`). Each frame's
 * plaintext is pushed only after that frame authenticated; the stream fails with TruncatedCiphertextError
 * if the input ends before the final frame. Ciphertext is decrypted as it arrives, so memory use is one frame of
 * plaintext (held until its tag verifies) plus the chunk being read. Obtained from `Envelope#decryptStream`.
 */
export class DecryptStream extends Transform {
  readonly #resolve: OpenKeyResolver
  readonly #maxSingleBytes: number
  #headerChunks: Buffer[] = []
  #headerBytes = 0
  /** Bytes the header needs before parsing can get further (from the last incomplete parse). */
  #headerNeed = 0
  #header: MessageHeader | undefined
  #key: Buffer | undefined
  /** Buffered body bytes not yet consumed. */
  #chunks: Buffer[] = []
  #buffered = 0
  #sequence = 0
  #done = false
  /** The frame being read once its marker (and length) were: ciphertext bytes still to come, and its opener. */
  #frame: { final: boolean; remaining: number; opener: FrameOpener } | undefined

  constructor(resolve: OpenKeyResolver, maxSingleBytes: number) {
    super()
    this.#resolve = resolve
    this.#maxSingleBytes = maxSingleBytes
  }

  /** The authenticated-later header, available once parsed. */
  get header(): MessageHeader | undefined {
    return this.#header
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#key) {
      this.#accept(chunk, callback)
      return
    }
    this.#headerChunks.push(chunk)
    this.#headerBytes += chunk.length
    // Parse again only once the field the last parse stopped in can be complete: re-assembling and re-parsing
    // the header for every small chunk would cost O(n^2) for a header trickling in byte by byte.
    if (this.#headerBytes < this.#headerNeed) {
      callback()
      return
    }
    const all = this.#headerChunks.length === 1 ? chunk : Buffer.concat(this.#headerChunks)
    let header: MessageHeader
    try {
      header = parseHeader(all)
    } catch (err) {
      if (err instanceof IncompleteHeader) {
        this.#headerChunks = [all]
        this.#headerNeed = err.needed
        callback()
      } else callback(err as Error)
      return
    }
    this.#header = header
    this.#headerChunks = []
    this.#resolve(header).then((key) => {
      // Postcondition: a key that arrives after destroy() (its KMS call was in flight) is wiped, never used.
      if (this.destroyed) {
        key.fill(0)
        callback()
        return
      }
      this.#key = key
      this.#accept(all.subarray(header.bytes.length), callback)
    }, callback)
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.#header) throw new TruncatedCiphertextError('The stream ended inside the message header.')
      if (this.#header.contentType === ContentType.Single && !this.#done) this.#openSingle()
      // Postcondition: the final frame was authenticated.
      if (!this.#done) throw new TruncatedCiphertextError('The stream ended before the final frame.')
      callback()
    } catch (err) {
      callback(err as Error)
    } finally {
      this.#wipe()
    }
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.#wipe()
    callback(error)
  }

  #wipe(): void {
    this.#key?.fill(0)
    this.#frame?.opener.abort()
  }

  #accept(bytes: Buffer, callback: TransformCallback): void {
    try {
      if (bytes.length > 0) {
        // Precondition: nothing may follow the final frame.
        if (this.#done) throw new MalformedCiphertextError('bytes follow the final frame')
        this.#chunks.push(bytes)
        this.#buffered += bytes.length
      }
      if (this.#header!.contentType === ContentType.Single) {
        // Precondition: a single (non-framed) message must be buffered whole before release; bound it.
        if (this.#buffered > this.#maxSingleBytes + TAG_LENGTH) {
          throw new LimitExceededError(
            `A non-framed message larger than ${this.#maxSingleBytes} bytes cannot be decrypted as a stream.`,
            'Encrypt large data with encryptStream() (framed), or raise maxSingleMessageBytes.',
          )
        }
      } else {
        while (this.#nextFrame()) {}
      }
      callback()
    } catch (err) {
      callback(err as Error)
    }
  }

  /** Take exactly `n` buffered bytes as a list of pieces (no copy). */
  #take(n: number): Buffer[] {
    const pieces: Buffer[] = []
    while (n > 0) {
      const head = this.#chunks[0]!
      if (head.length <= n) {
        pieces.push(head)
        this.#chunks.shift()
        n -= head.length
      } else {
        pieces.push(head.subarray(0, n))
        this.#chunks[0] = head.subarray(n)
        n = 0
      }
    }
    return pieces
  }

  #takeBytes(n: number): Buffer {
    const pieces = this.#take(n)
    this.#buffered -= n
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces)
  }

  /**
   * Read the next frame as far as the buffered bytes go: its ciphertext is decrypted as it arrives (held, not
   * released), and once its tag is here the frame is authenticated and released. Returns whether a frame was
   * completed.
   */
  #nextFrame(): boolean {
    if (this.#done) return false
    const header = this.#header!
    if (!this.#frame) {
      if (this.#buffered < 1) return false
      const marker = this.#chunks[0]![0]
      let final: boolean
      let length: number
      if (marker === FrameMarker.Regular) {
        final = false
        length = header.frameLength
      } else if (marker === FrameMarker.Final) {
        if (this.#buffered < 5) return false
        final = true
        length = this.#takeBytes(5).readUInt32BE(1)
        // Precondition: the final frame is shorter than a regular frame.
        if (length >= header.frameLength)
          throw new MalformedCiphertextError('final frame longer than the frame length')
      } else {
        throw new MalformedCiphertextError(`unknown frame marker ${marker}`)
      }
      // Precondition: sequence numbers stay within u32.
      if (this.#sequence >= MAX_FRAMES) throw new MalformedCiphertextError('too many frames')
      if (!final) this.#takeBytes(1)
      const opener = new FrameOpener(this.#key!, header.nonce, header.bytes, this.#sequence, final)
      this.#frame = { final, remaining: length, opener }
    }
    const frame = this.#frame
    while (frame.remaining > 0 && this.#buffered > 0) {
      const head = this.#chunks[0]!
      if (head.length <= frame.remaining) {
        this.#chunks.shift()
        frame.opener.update(head)
        frame.remaining -= head.length
        this.#buffered -= head.length
      } else {
        frame.opener.update(head.subarray(0, frame.remaining))
        this.#chunks[0] = head.subarray(frame.remaining)
        this.#buffered -= frame.remaining
        frame.remaining = 0
      }
    }
    if (frame.remaining > 0 || this.#buffered < TAG_LENGTH) return false
    this.#frame = undefined
    this.#sequence++
    const plain = frame.opener.finish(this.#takeBytes(TAG_LENGTH))
    if (frame.final) {
      this.#done = true
      // Postcondition: nothing follows the final frame (checked before releasing it when the bytes are here).
      if (this.#buffered > 0) {
        for (const p of plain) p.fill(0)
        throw new MalformedCiphertextError('bytes follow the final frame')
      }
    }
    for (const p of plain) this.push(p)
    return true
  }

  #openSingle(): void {
    const header = this.#header!
    if (this.#buffered < TAG_LENGTH)
      throw new TruncatedCiphertextError('The message ends before its authentication tag.')
    const ct = this.#take(this.#buffered - TAG_LENGTH)
    this.#buffered = TAG_LENGTH
    const tag = this.#takeBytes(TAG_LENGTH)
    for (const p of openFrame(this.#key!, header.nonce, header.bytes, 0, true, ct, tag)) this.push(p)
    this.#done = true
  }
}
