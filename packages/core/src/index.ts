/**
 * @kms-envelope/core — envelope encryption with AWS KMS.
 *
 * - {@link Envelope}: encrypt/decrypt bytes, strings, JSON and streams (format: docs/FORMAT.md).
 * - {@link KmsKeyring}: data keys from AWS KMS (GenerateDataKey / Encrypt / Decrypt), strict or discovery.
 * - {@link DataKeyCache}: the data-key cache behind every Envelope (limits, single-flight, zeroize).
 * - {@link inspect}: read a message header without any key.
 * - Errors: every error is a {@link KmsEnvelopeError} with a stable `code`.
 *
 * @packageDocumentation
 */
export * from './cache/index.js'
export type { CacheLimits, CacheStats, Zeroizable } from './cache/types.js'
export {
  type DecryptOptions,
  type DecryptResult,
  type EncryptMessageOptions,
  type EncryptOptions,
  type EncryptStreamOptions,
  Envelope,
  type EnvelopeOptions,
} from './envelope/envelope.js'
export { assertExactContext, assertExpectedContext } from './envelope/expected-context.js'
export { inspect, type MessageInfo } from './envelope/inspect.js'
export {
  openSealedJson,
  SealedRecordError,
  type SealedRecordProblem,
  SealedRecords,
  type SealedRecordsOptions,
  sealJson,
} from './envelope/sealed-record.js'
export * from './errors/errors.js'
export { FORMAT_VERSION, Suite } from './format/constants.js'
export * from './keyring/types.js'
export * from './kms/index.js'
export * from './scope/index.js'
export { DecryptStream } from './stream/decrypt-stream.js'
export { EncryptStream } from './stream/encrypt-stream.js'
