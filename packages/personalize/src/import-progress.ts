/**
 * Progress of an import: a pass-through Transform in front of the encrypting stream that counts plaintext
 * bytes and lines (records of CSV or JSON-lines data) and reports them per chunk. It neither buffers nor
 * parses, so an import keeps constant memory.
 */
import { Transform, type TransformCallback } from 'node:stream'
import { ConfigurationError } from '@kms-envelope/core'
import type { DatasetType } from './resource-names.js'

/**
 * Progress of one import, reported after each chunk and once at the end.
 *
 * @example
 * ```ts
 * await group.importDataset('Items', source, { onProgress: (p: ImportProgress) => p.done && console.log(p.lines) })
 * ```
 */
export interface ImportProgress {
  readonly dataset: DatasetType
  /** Plaintext bytes consumed so far. */
  readonly bytes: number
  /** Lines seen so far (complete lines; at the end, a last line without a newline counts too). */
  readonly lines: number
  /** True on the last report, when the whole source was consumed. */
  readonly done: boolean
}

const NEWLINE = 0x0a

/**
 * Counts bytes and lines flowing through; calls `onProgress` for each chunk and at the end.
 *
 * @example
 * ```ts
 * import { ProgressCounter } from '@kms-envelope/personalize'
 * const counter = new ProgressCounter('Items', (p) => console.log(p.bytes, p.lines))
 * ```
 */
export class ProgressCounter extends Transform {
  readonly dataset: DatasetType
  #bytes = 0
  #lines = 0
  #lastByte = NEWLINE
  readonly #onProgress: ((progress: ImportProgress) => void) | undefined

  constructor(dataset: DatasetType, onProgress?: (progress: ImportProgress) => void) {
    // Object-mode writable side: a source stream in object mode reaches _transform, which refuses anything
    // but strings and bytes (a plain Transform would throw from write(), outside the import's pipeline).
    super({ writableObjectMode: true })
    this.dataset = dataset
    this.#onProgress = onProgress
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes
  }

  /** Lines seen so far (a final line without a newline is counted once the input ended). */
  get lines(): number {
    return this.#lines
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk
    // Precondition: bytes or text (a stream of objects is not a dataset file).
    if (!(bytes instanceof Uint8Array)) {
      callback(
        new ConfigurationError(
          'A dataset source yields strings or bytes (CSV or JSON lines), not objects.',
          'Pass the file itself (createReadStream("items.csv")), lines as strings, or bytes; serialize objects to CSV or JSON lines first.',
        ),
      )
      return
    }
    if (bytes.length === 0) {
      callback()
      return
    }
    let lines = 0
    for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) lines++
    this.#lines += lines
    this.#bytes += bytes.length
    this.#lastByte = bytes[bytes.length - 1]!
    callback(this.#report(false), bytes)
  }

  override _flush(callback: TransformCallback): void {
    if (this.#lastByte !== NEWLINE) this.#lines++
    callback(this.#report(true))
  }

  /** Calls the callback; a callback that throws fails the import (returned, for the stream callback). */
  #report(done: boolean): Error | null {
    try {
      this.#onProgress?.({ dataset: this.dataset, bytes: this.#bytes, lines: this.#lines, done })
      return null
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err))
    }
  }
}
