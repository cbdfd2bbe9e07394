/**
 * The two errors this package adds to core's hierarchy. Everything about keys and ciphertext (disabled or
 * wrong keys, denied access, tampering, context mismatches) is reported with core's own error classes.
 */
import { KmsEnvelopeError } from '@kms-envelope/core'

/**
 * A project, collection, image, manifest, model or face does not exist in the storage.
 *
 * @example
 * ```ts
 * import { VisionNotFoundError } from '@kms-envelope/vision'
 * try {
 *   await project.loadModel(7)
 * } catch (err) {
 *   if (err instanceof VisionNotFoundError) console.error(err.code, err.what) // ERR_VISION_NOT_FOUND
 * }
 * ```
 */
export class VisionNotFoundError extends KmsEnvelopeError {
  /** What was looked for, e.g. `model 7 of project defects`. */
  readonly what: string
  constructor(what: string, options?: { cause?: unknown }) {
    super(
      'ERR_VISION_NOT_FOUND',
      `No ${what} in the storage.`,
      'Check the name (and the storage directory); list what exists with listImages() / listModels() / listFaces().',
      options,
    )
    this.what = what
  }
}

/**
 * A source image changed (size, modification time or inode) while it was being copied, so its encrypted copy
 * may not match the file; the copy was not stored (an earlier copy of the same image, if any, is kept).
 *
 * @example
 * ```ts
 * import { SourceChangedError } from '@kms-envelope/vision'
 * try {
 *   await project.importImages('./images')
 * } catch (err) {
 *   if (err instanceof SourceChangedError) console.error(`re-run the import: ${err.file} changed`)
 * }
 * ```
 */
export class SourceChangedError extends KmsEnvelopeError {
  /** The source file that changed. */
  readonly file: string
  constructor(file: string) {
    super(
      'ERR_VISION_SOURCE_CHANGED',
      `The source image ${file} changed while it was being copied; its encrypted copy was not stored.`,
      'Stop whatever writes to the source directory and import again.',
    )
    this.file = file
  }
}
