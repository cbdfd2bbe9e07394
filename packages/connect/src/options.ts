import type { KMSClient } from '@aws-sdk/client-kms'
import type { CacheLimits, KeyRef, KeyStore } from '@kms-envelope/core'

/**
 * Default key window of contact PII scope keys: one hour.
 *
 * @example
 * ```ts
 * await ConnectDataProtection.create({ kms, serviceKeyArn, store, piiKeyWindowMs: DEFAULT_PII_KEY_WINDOW_MS / 4 }) // 15 min
 * ```
 */
export const DEFAULT_PII_KEY_WINDOW_MS = 3_600_000
/**
 * Default key window of integration configuration scope keys: one day.
 *
 * @example
 * ```ts
 * await ConnectDataProtection.create({ kms, serviceKeyArn, store, integrationKeyWindowMs: 7 * DEFAULT_INTEGRATION_KEY_WINDOW_MS })
 * ```
 */
export const DEFAULT_INTEGRATION_KEY_WINDOW_MS = 86_400_000

/**
 * Options of {@link ConnectDataProtection.create}.
 *
 * @example
 * ```ts
 * const options: ConnectDataProtectionOptions = {
 *   kms: new KMSClient({ region: 'us-east-1' }),
 *   serviceKeyArn: 'arn:aws:kms:us-east-1:444455556666:alias/connect-service',
 *   store: new FileKeyStore({ directory: './scope-keys' }),
 * }
 * ```
 */
export interface ConnectDataProtectionOptions {
  /** The KMS client (`@aws-sdk/client-kms`) of the service's principal. */
  readonly kms: KMSClient
  /**
   * The service-owned KMS key, as a key ARN or alias ARN in the service's account. It is the root key of
   * the contact PII and integration configuration scope keys, the key of voiceprints, and the default key
   * of recordings. Checked at creation (exists, Enabled, symmetric ENCRYPT_DECRYPT, owned by the ARN's
   * account).
   */
  readonly serviceKeyArn: string
  /**
   * The KMS key whose data keys protect recordings: `serviceOwnedKey(arn)` or `customerManagedKey(arn)`
   * (Connect lets a customer pick the KMS key of its recording bucket). Default: the service-owned key.
   */
  readonly recordingKey?: KeyRef
  /** Where the wrapped scope keys of contact PII and integration configuration live (`FileKeyStore`, `DynamoDbKeyStore`, …). */
  readonly store: KeyStore
  /** Key window of each instance's contact PII key. Default one hour (a new key version per hour). */
  readonly piiKeyWindowMs?: number
  /** Key window of each user account's integration configuration key. Default one day. */
  readonly integrationKeyWindowMs?: number
  /** Grant tokens sent on every KMS call (e.g. for a customer managed recording key used through a fresh grant). */
  readonly grantTokens?: readonly string[]
  /** Who this process is, in the scope-key audit trail. Default `pid:<pid>@<host>`. */
  readonly actor?: string
  /** Clock (epoch ms) for key windows and cache ages; inject one to simulate time in tests. Default `Date.now`. */
  readonly clock?: () => number
  /** Data-key cache limits of recordings and voiceprints (default: core's, 5 minutes per data key). */
  readonly dataKeyCache?: Partial<CacheLimits>
}
