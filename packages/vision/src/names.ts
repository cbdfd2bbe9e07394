/**
 * Name rules. Names end up in storage paths and in encryption contexts (which are not secret), so they are
 * checked before use: no path traversal, no control characters, AWS's own patterns where AWS has one.
 */
import { ConfigurationError } from '@kms-envelope/core'

/**
 * The two datasets of a Lookout for Vision project.
 *
 * @example
 * ```ts
 * const dataset: DatasetType = 'test'
 * await project.importImages('./holdout', { dataset })
 * ```
 */
export type DatasetType = 'train' | 'test'

const PROJECT = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$/
const COLLECTION = /^[a-zA-Z0-9_-][a-zA-Z0-9_.-]{0,254}$/
const EXTERNAL_IMAGE_ID = /^[a-zA-Z0-9_.\-:]{1,255}$/
const FACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/

/** @internal Lookout for Vision's ProjectName pattern: `[a-zA-Z0-9][a-zA-Z0-9_-]*`, 1–255 characters. */
export function assertProjectName(name: string): string {
  // Precondition: a project name AWS would accept (and a safe directory name).
  if (typeof name !== 'string' || !PROJECT.test(name)) {
    throw new ConfigurationError(
      `"${String(name)}" is not a valid project name.`,
      'Use 1-255 characters: letters, digits, "-" and "_", starting with a letter or digit.',
    )
  }
  return name
}

/** @internal Rekognition's CollectionId pattern: `[a-zA-Z0-9_.-]+`, 1–255 characters (not starting with "."). */
export function assertCollectionId(id: string): string {
  // Precondition: a collection id AWS would accept (and a safe directory name).
  if (typeof id !== 'string' || !COLLECTION.test(id)) {
    throw new ConfigurationError(
      `"${String(id)}" is not a valid collection id.`,
      'Use 1-255 characters: letters, digits, "-", "_" and "." (not first).',
    )
  }
  return id
}

/** @internal Rekognition's ExternalImageId pattern: `[a-zA-Z0-9_.\-:]+`, 1–255 characters. */
export function assertExternalImageId(id: string): string {
  // Precondition: an external image id AWS would accept.
  if (typeof id !== 'string' || !EXTERNAL_IMAGE_ID.test(id)) {
    throw new ConfigurationError(
      `"${String(id)}" is not a valid external image id.`,
      'Use 1-255 characters: letters, digits, "_", ".", "-" and ":".',
    )
  }
  return id
}

/** @internal A face id as this package issues them (a random UUID). */
export function assertFaceId(id: string): string {
  // Precondition: a face id returned by indexFace().
  if (typeof id !== 'string' || !FACE_ID.test(id)) {
    throw new ConfigurationError(
      `"${String(id)}" is not a face id.`,
      'Pass a faceId returned by indexFace().',
    )
  }
  return id
}

/** @internal `train` or `test`. */
export function assertDataset(dataset: string): DatasetType {
  // Precondition: one of the two Lookout for Vision datasets.
  if (dataset !== 'train' && dataset !== 'test') {
    throw new ConfigurationError(`Unknown dataset "${String(dataset)}".`, 'Use "train" or "test".')
  }
  return dataset
}

/**
 * @internal A relative image path (`/`-separated): no empty, `.` or `..` segment, no backslash, no control
 * character, at most 1024 bytes. It names the copy in the storage and goes into the encryption context.
 */
export function assertImagePath(path: string): string {
  // Precondition: a safe relative path.
  const ok =
    typeof path === 'string' &&
    path.length > 0 &&
    Buffer.byteLength(path) <= 1024 &&
    !path.includes('\\') &&
    !CONTROL.test(path) &&
    path.split('/').every((s) => s !== '' && s !== '.' && s !== '..')
  if (!ok) {
    throw new ConfigurationError(
      `"${String(path)}" is not a valid image path.`,
      'Use a relative path such as "anomaly/scratch-01.jpg": "/" separators, no "." or ".." segments, no backslashes, at most 1024 bytes.',
    )
  }
  return path
}

/** @internal A model version: a positive integer. */
export function assertModelVersion(version: number): number {
  // Precondition: a version number issued by saveModel().
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new ConfigurationError(
      `Model version ${String(version)} is not a positive integer.`,
      'Pass a version returned by saveModel() or listModels().',
    )
  }
  return version
}
