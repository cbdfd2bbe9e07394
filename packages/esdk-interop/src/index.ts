/**
 * @kms-envelope/esdk-interop — read AWS Encryption SDK messages with the same KMS keys, under
 * kms-envelope's rules, and migrate them to the kms-envelope format.
 *
 * - {@link detectFormat}, {@link esdkSuiteOf}: which format a message is in, from its first bytes.
 * - {@link EsdkReader}: decrypt / decryptStream / migrate / migrateStream, a data-key cache (`stats()`, `purge()`).
 * - {@link EsdkWriter}: ESDK messages for consumers still on the ESDK (rollback, dual formats).
 * - {@link CommitmentPolicyError}: a legacy non-committing message refused by policy.
 *
 * @packageDocumentation
 */

export { DEFAULT_ESDK_READER_CACHE, type EsdkReaderCacheOptions } from './decrypt-cache.js'
export { detectFormat, esdkSuiteOf, type MessageFormat } from './detect-format.js'
export { CommitmentPolicyError } from './errors.js'
export {
  type EsdkCommitmentPolicy,
  type EsdkDecryptOptions,
  type EsdkDecryptResult,
  type EsdkDecryptStreamOptions,
  EsdkReader,
  type EsdkReaderOptions,
  type EsdkReaderStats,
  type EsdkStreamInfo,
  type MigrateOptions,
  type MigrateStreamOptions,
  type MigrationResult,
} from './esdk-reader.js'
export { ESDK_SUITES, type EsdkSuite } from './esdk-suites.js'
export { type EsdkEncryptOptions, EsdkWriter, type EsdkWriterOptions } from './esdk-writer.js'
export { ESDK_RESERVED_PREFIX } from './guard.js'
export type { EsdkKmsCalls } from './kms-adapter.js'
