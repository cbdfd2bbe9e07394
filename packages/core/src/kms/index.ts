/**
 * AWS KMS adapter: client creation with the endpoint check, key references (service-owned vs customer
 * managed), key validation, KMS error mapping, and the KMS keyring.
 */
export {
  customerManagedKey,
  isKmsKeyArn,
  type KeyOwnership,
  type KeyRef,
  type KmsArn,
  parseKmsArn,
  serviceOwnedKey,
  tryParseKmsArn,
} from './key-ref.js'
export {
  assertSecureKmsEndpoint,
  createKmsClient,
  isLoopbackHost,
  type KmsClientOptions,
} from './kms-client.js'
export {
  type KmsContextSelector,
  type KmsDecryptMode,
  KmsKeyring,
  type KmsKeyringOptions,
  type KmsKeyringStats,
} from './kms-keyring.js'
export { type KmsCallInfo, mapKmsError } from './map-kms-error.js'
export { type KeySummary, type ValidateKeyOptions, validateKey } from './validate-key.js'
