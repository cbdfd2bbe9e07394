/**
 * @kms-envelope/connect — Amazon Connect's encryption at rest on kms-envelope: contact PII under a
 * time-limited per-instance key, recordings under a data key per customer account, voiceprints under a
 * service-owned key, integration configuration under a time-limited per-user-account key.
 *
 * @packageDocumentation
 */
export {
  ACCOUNT_KEY,
  assertResourceId,
  CONTACT_KEY,
  type ConnectDataClass,
  DATA_CLASS_KEY,
  DOMAIN_KEY,
  INSTANCE_KEY,
  INTEGRATION_KEY,
  INTEGRATION_SCOPE_PREFIX,
  integrationContext,
  KEY_SCOPE_KEY,
  PII_SCOPE_PREFIX,
  piiContext,
  recordingContext,
  recordingKmsContext,
  SPEAKER_KEY,
  voiceprintContext,
} from './binding.js'
export {
  ConnectDataProtection,
  type ConnectKeys,
  type ConnectStats,
  type RecordingOptions,
} from './connect-data-protection.js'
export { describeProtection, type ProtectingKey, type Protection } from './describe.js'
export {
  type ConnectDataProtectionOptions,
  DEFAULT_INTEGRATION_KEY_WINDOW_MS,
  DEFAULT_PII_KEY_WINDOW_MS,
} from './options.js'
export type { RecordingProgress } from './progress.js'
