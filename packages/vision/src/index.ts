/**
 * @kms-envelope/vision — Amazon Lookout for Vision / Rekognition data protection on kms-envelope:
 * encrypted copies of training images (sources untouched), manifests and models encrypted by default,
 * symmetric KMS keys only (the customer's or the service's), and Rekognition-style face collections whose
 * vectors are stored encrypted.
 *
 * @packageDocumentation
 */
export { SourceChangedError, VisionNotFoundError, VisionRecordError } from './errors.js'
export {
  type CreateCollectionOptions,
  FaceCollection,
  type FaceMatch,
  type FaceRecord,
  type OpenCollectionOptions,
  type SearchFacesOptions,
} from './face-collection.js'
export type { ManifestEntry } from './manifest.js'
export type { DatasetType } from './names.js'
export {
  type CreateProjectOptions,
  type ImportOptions,
  type ImportProgress,
  type ImportResult,
  type ModelInfo,
  type OpenProjectOptions,
  VisionProject,
} from './project.js'
export type { ProtectionKey, VisionServiceConfig } from './protection.js'
export { similarity } from './similarity.js'
export { FileStorage, type FileStorageOptions, type VisionStorage } from './storage.js'
