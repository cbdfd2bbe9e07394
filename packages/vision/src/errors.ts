/**
 * The errors this package adds to core's hierarchy. Everything about keys and ciphertext (disabled or
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

/**
 * A project's or collection's metadata record (`project.kenv`, `collection.kenv`) was refused when opened:
 * it was modified, forged, copied from another project or collection, or does not describe the resource
 * (code `ERR_VISION_RECORD`). The record is not used, so nothing is read or written with the key it names.
 * `cause` is the core error (e.g. TamperedCiphertextError, EncryptionContextMismatchError, InvalidKeyError)
 * when there is one. KMS errors about the service key itself (disabled, access denied, unavailable) are not
 * this error: they pass through as core errors.
 *
 * @example
 * ```ts
 * import { VisionRecordError } from '@kms-envelope/vision'
 * try {
 *   await VisionProject.open({ ...service, name: 'pcb' })
 * } catch (err) {
 *   if (err instanceof VisionRecordError) console.error(err.reason, err.resource, err.remedy)
 *   else throw err
 * }
 * ```
 */
export class VisionRecordError extends KmsEnvelopeError {
  /**
   * `TAMPERED`: the record does not authenticate under the service key (edited, truncated, forged, sealed
   * under another key, or plain JSON); `OTHER_RESOURCE`: the sealed record of another project or collection,
   * or another sealed object (copied or swapped in the storage); `INVALID`: authentic but its fields do not describe this resource.
   */
  readonly reason: 'TAMPERED' | 'OTHER_RESOURCE' | 'INVALID'
  /** The resource opened, e.g. `project pcb`. */
  readonly resource: string

  constructor(
    reason: VisionRecordError['reason'],
    resource: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    const what =
      reason === 'TAMPERED'
        ? 'does not authenticate under the service key (it was modified, cut, forged or sealed under another key)'
        : reason === 'OTHER_RESOURCE'
          ? "is not this resource's record but another sealed object (another project's or collection's record, or one of their objects, copied or swapped in the storage)"
          : 'authenticates but is not a valid record of it'
    super(
      'ERR_VISION_RECORD',
      `The metadata record of ${resource} ${what}: ${detail}. It was not used: nothing was read or written with the key it names.`,
      'Restore the record from a backup of the storage (only records sealed by this service with its current serviceKeyArn open), and find out who could write to the storage.',
      options,
    )
    this.reason = reason
    this.resource = resource
  }
}
