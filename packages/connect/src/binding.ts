/**
 * What each Amazon Connect data class binds into its messages: the encryption-context pairs (authenticated
 * in every message header, checked before any KMS call on decrypt) and the key-scope ids of the scoped key
 * hierarchies. One place, so encryption and decryption can never disagree.
 */
import { ConfigurationError, type EncryptionContext, MAX_SCOPE_ID_BYTES } from '@kms-envelope/core'

/**
 * Context key naming the data class of a message (`contact-pii`, `recording`, `voiceprint`, `integration-config`).
 *
 * @example
 * ```ts
 * inspect(ct).context[DATA_CLASS_KEY] // 'contact-pii'
 * ```
 */
export const DATA_CLASS_KEY = 'connect:data-class'
/**
 * Context key naming the scope key (`connect-pii/<instance>`, `connect-integration/<account>`) a message is under.
 *
 * @example
 * ```ts
 * inspect(ct).context[KEY_SCOPE_KEY] // 'connect-pii/i-123'
 * ```
 */
export const KEY_SCOPE_KEY = 'connect:key-scope'
/**
 * Context key of the Amazon Connect instance id.
 *
 * @example
 * ```ts
 * inspect(ct).context[INSTANCE_KEY] // 'i-123'
 * ```
 */
export const INSTANCE_KEY = 'connect:instance'
/**
 * Context key of the contact a contact PII record or a recording belongs to. A per-record pair: it does
 * not split the instance's cached scope key nor the account's recording data key (core caches their data
 * keys per scope / per account, `Keyring.dataKeyScope`).
 *
 * @example
 * ```ts
 * inspect(ct).context[CONTACT_KEY] // 'contact-1'
 * ```
 */
export const CONTACT_KEY = 'connect:contact'
/**
 * Context key of the integration an integration configuration record belongs to (a per-record pair, like
 * {@link CONTACT_KEY}).
 *
 * @example
 * ```ts
 * inspect(ct).context[INTEGRATION_KEY] // 'salesforce'
 * ```
 */
export const INTEGRATION_KEY = 'connect:integration'
/**
 * Context key of the AWS account id (recordings: the customer account; integration config: the user account).
 *
 * @example
 * ```ts
 * inspect(recording).context[ACCOUNT_KEY] // '111122223333'
 * ```
 */
export const ACCOUNT_KEY = 'connect:account'
/**
 * Context key of the Voice ID domain.
 *
 * @example
 * ```ts
 * inspect(voiceprint).context[DOMAIN_KEY] // 'voice-domain-1'
 * ```
 */
export const DOMAIN_KEY = 'connect:voice-id-domain'
/**
 * Context key of the Voice ID speaker.
 *
 * @example
 * ```ts
 * inspect(voiceprint).context[SPEAKER_KEY] // 'speaker-7'
 * ```
 */
export const SPEAKER_KEY = 'connect:speaker'

/**
 * The four data classes Amazon Connect protects at rest, each under its own kind of key.
 *
 * @example
 * ```ts
 * const dataClass: ConnectDataClass = 'recording'
 * ```
 */
export type ConnectDataClass = (typeof DATA_CLASSES)[number]

/** @internal The data classes, for checking a header's (unauthenticated) data-class value. */
export const DATA_CLASSES = ['contact-pii', 'recording', 'voiceprint', 'integration-config'] as const

/**
 * Scope-id prefix of the per-instance contact PII keys.
 *
 * @example
 * ```ts
 * await connect.piiKeys.listVersions(`${PII_SCOPE_PREFIX}i-123`)
 * ```
 */
export const PII_SCOPE_PREFIX = 'connect-pii/'
/**
 * Scope-id prefix of the per-user-account integration configuration keys.
 *
 * @example
 * ```ts
 * await connect.integrationKeys.audit(`${INTEGRATION_SCOPE_PREFIX}111122223333`)
 * ```
 */
export const INTEGRATION_SCOPE_PREFIX = 'connect-integration/'

// Longest id that still fits the longest prefix in a scope id (core limit: 128 UTF-8 bytes).
const MAX_ID_BYTES = MAX_SCOPE_ID_BYTES - INTEGRATION_SCOPE_PREFIX.length

/**
 * Check a resource id (instance, contact, account, domain, speaker, integration): a non-empty string of at
 * most 108 UTF-8 bytes without control characters. Returns it.
 *
 * @example
 * ```ts
 * assertResourceId('instanceId', 'a1b2c3d4-5678-90ab-cdef-111122223333')
 * ```
 */
export function assertResourceId(name: string, value: unknown): string {
  // Precondition: a non-empty, bounded string without control characters (ids end up in scope ids and
  // in KMS encryption contexts, which CloudTrail logs).
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    Buffer.byteLength(value, 'utf8') > MAX_ID_BYTES ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    /[\u0000-\u001f\u007f]/.test(value)
  ) {
    throw new ConfigurationError(
      `${name} must be a non-empty string of at most ${MAX_ID_BYTES} UTF-8 bytes without control characters.`,
      `Pass the ${name} as Amazon Connect shows it (e.g. an instance id, contact id or 12-digit account id).`,
    )
  }
  return value
}

/**
 * The context of a contact PII record: data class, instance, the instance's key scope, and the contact.
 * Every contact of an instance shares the instance's scope key; the contact pair binds the record to its
 * contact and is checked on decryption before any KMS call.
 *
 * @example
 * ```ts
 * piiContext('i-123', 'contact-1')
 * // { 'connect:data-class': 'contact-pii', 'connect:instance': 'i-123', 'connect:key-scope': 'connect-pii/i-123', 'connect:contact': 'contact-1' }
 * ```
 */
export function piiContext(instanceId: string, contactId: string): EncryptionContext {
  assertResourceId('instanceId', instanceId)
  assertResourceId('contactId', contactId)
  return {
    [DATA_CLASS_KEY]: 'contact-pii',
    [INSTANCE_KEY]: instanceId,
    [KEY_SCOPE_KEY]: `${PII_SCOPE_PREFIX}${instanceId}`,
    [CONTACT_KEY]: contactId,
  }
}

/**
 * The context of an integration configuration record: data class, user account, its key scope, and the
 * integration (a per-record pair: every integration of an account shares the account's scope key).
 *
 * @example
 * ```ts
 * integrationContext('111122223333', 'salesforce')['connect:key-scope'] // 'connect-integration/111122223333'
 * ```
 */
export function integrationContext(userAccountId: string, integrationId: string): EncryptionContext {
  assertResourceId('userAccountId', userAccountId)
  assertResourceId('integrationId', integrationId)
  return {
    [DATA_CLASS_KEY]: 'integration-config',
    [ACCOUNT_KEY]: userAccountId,
    [KEY_SCOPE_KEY]: `${INTEGRATION_SCOPE_PREFIX}${userAccountId}`,
    [INTEGRATION_KEY]: integrationId,
  }
}

/**
 * The context of a recording: data class, customer account and contact. Authenticated in the recording's
 * header and checked (`expectedContext`) before any KMS call, so a recording cannot be read as another
 * contact's. Only the account part ({@link recordingKmsContext}) reaches KMS: every recording of an account
 * shares the account's data key, whatever its contact.
 *
 * @example
 * ```ts
 * recordingContext('111122223333', 'contact-1')
 * // { 'connect:data-class': 'recording', 'connect:account': '111122223333', 'connect:contact': 'contact-1' }
 * ```
 */
export function recordingContext(accountId: string, contactId: string): EncryptionContext {
  assertResourceId('contactId', contactId)
  return { ...recordingKmsContext(accountId), [CONTACT_KEY]: contactId }
}

/**
 * The KMS encryption context of a recording's data key: data class and customer account (no contact). It is
 * what CloudTrail shows for GenerateDataKey and Decrypt of recordings, and what key-policy conditions such
 * as `kms:EncryptionContext:connect:account` see; KMS refuses to unwrap an account's data key for another
 * account.
 *
 * @example
 * ```ts
 * recordingKmsContext('111122223333') // { 'connect:data-class': 'recording', 'connect:account': '111122223333' }
 * ```
 */
export function recordingKmsContext(accountId: string): EncryptionContext {
  assertResourceId('accountId', accountId)
  return { [DATA_CLASS_KEY]: 'recording', [ACCOUNT_KEY]: accountId }
}

/**
 * The context of a voiceprint: data class, Voice ID domain and speaker. It is also the KMS encryption
 * context of the voiceprint's data key.
 *
 * @example
 * ```ts
 * voiceprintContext('domain-1', 'speaker-7')
 * ```
 */
export function voiceprintContext(domainId: string, speakerId: string): EncryptionContext {
  assertResourceId('domainId', domainId)
  assertResourceId('speakerId', speakerId)
  return { [DATA_CLASS_KEY]: 'voiceprint', [DOMAIN_KEY]: domainId, [SPEAKER_KEY]: speakerId }
}
