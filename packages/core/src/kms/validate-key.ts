/**
 * One check, shared by every KMS adapter, that a KMS key can protect data keys: it exists, is enabled,
 * is a symmetric ENCRYPT_DECRYPT key, and belongs to the account the caller expects. Run it when a
 * customer configures their key, so a wrong key fails at setup with a message saying what to fix.
 */
import { DescribeKeyCommand, type KeyMetadata, type KMSClient } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  InvalidKeyError,
  KeyDisabledError,
  UnexpectedKmsResponseError,
} from '../errors/errors.js'
import type { KeyRef } from './key-ref.js'
import { assertSecureKmsEndpoint } from './kms-client.js'
import { mapKmsError } from './map-kms-error.js'

/** Options for {@link validateKey}. */
export interface ValidateKeyOptions {
  /** Grant tokens for a grant that is not yet consistent (customer managed keys used through a grant). */
  readonly grantTokens?: readonly string[]
  /** The account that must own the key; default: the account in the key's ARN. */
  readonly expectedAccountId?: string
}

/** What {@link validateKey} learned about the key. */
export interface KeySummary {
  /** Key ARN (an alias resolved to its key). */
  readonly arn: string
  readonly keyId: string
  readonly accountId: string
  readonly kind: KeyRef['kind']
  /** `AWS` (AWS managed) or `CUSTOMER`. */
  readonly keyManager: string | undefined
  readonly multiRegion: boolean
  /** `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE`. */
  readonly origin: string | undefined
}

/**
 * DescribeKey and check the key: exists (KeyNotFoundError), state Enabled (KeyDisabledError with the
 * state), key spec SYMMETRIC_DEFAULT (InvalidKeyError `KEY_SPEC`), key usage ENCRYPT_DECRYPT
 * (InvalidKeyError `KEY_USAGE`), owner account as expected (InvalidKeyError `OWNER`).
 *
 * @example
 * ```ts
 * import { customerManagedKey, validateKey } from '@kms-envelope/core'
 *
 * const key = customerManagedKey(customerSuppliedArn)
 * const summary = await validateKey(kmsClient, key, { grantTokens: [grantToken] })
 * console.log(`using ${summary.arn} owned by ${summary.accountId}`)
 * ```
 */
export async function validateKey(
  client: KMSClient,
  ref: KeyRef,
  options: ValidateKeyOptions = {},
): Promise<KeySummary> {
  const expected = options.expectedAccountId ?? ref.accountId
  // Precondition: the expected owner is an account id.
  if (!/^\d{12}$/.test(expected)) {
    throw new ConfigurationError(
      `expectedAccountId must be a 12-digit AWS account id, got "${expected}".`,
      'Pass the account that owns the key.',
    )
  }
  // Precondition: an HTTPS endpoint (plain HTTP only on loopback), as for every other KMS call of the library.
  await assertSecureKmsEndpoint(client)
  const grantTokens = options.grantTokens?.length ? { GrantTokens: [...options.grantTokens] } : {}
  let meta: KeyMetadata | undefined
  try {
    meta = (await client.send(new DescribeKeyCommand({ KeyId: ref.arn, ...grantTokens }))).KeyMetadata
  } catch (err) {
    throw mapKmsError(err, { operation: 'DescribeKey', keyId: ref.arn })
  }
  // Postcondition: KMS described the key.
  if (!meta?.Arn || !meta.KeyId) {
    throw new UnexpectedKmsResponseError('DescribeKey', `no key metadata for ${ref.arn}`)
  }
  const arn = assertUsableKeyMetadata({ ...meta, Arn: meta.Arn })
  // Postcondition: owned by the expected account (a customer managed key must be the customer's).
  if (meta.AWSAccountId !== expected) {
    throw new InvalidKeyError(
      arn,
      'OWNER',
      `it belongs to account ${meta.AWSAccountId ?? '(unknown)'}, not ${expected}`,
      ref.kind === 'customer-managed'
        ? "Use a key in the customer's own account (the account that owns the data)."
        : "Use a key in the service's own account.",
    )
  }
  // Postcondition: a customer managed key is managed by the customer (an AWS managed key, `aws/...`, takes no
  // grants or key-policy changes, so the service could not be given access to it).
  if (ref.kind === 'customer-managed' && meta.KeyManager !== undefined && meta.KeyManager !== 'CUSTOMER') {
    throw new InvalidKeyError(
      arn,
      'NOT_ALLOWED',
      `it is managed by ${meta.KeyManager}, not by the customer`,
      'Create a symmetric customer managed key in your account and pass its ARN.',
    )
  }
  return {
    arn,
    keyId: meta.KeyId,
    accountId: meta.AWSAccountId,
    kind: ref.kind,
    keyManager: meta.KeyManager,
    multiRegion: meta.MultiRegion ?? false,
    origin: meta.Origin,
  }
}

/**
 * The key-state and key-type checks of {@link validateKey}, on metadata already described: state Enabled
 * (unless `requireEnabled` is false), key spec SYMMETRIC_DEFAULT, key usage ENCRYPT_DECRYPT. Returns the ARN.
 * @internal Shared with the scope-key hierarchy, which resolves aliases of its root key.
 */
export function assertUsableKeyMetadata(meta: KeyMetadata & { Arn: string }, requireEnabled = true): string {
  const arn = meta.Arn
  // Postcondition: the key is Enabled.
  const state = meta.KeyState ?? (meta.Enabled === false ? 'Disabled' : 'Enabled')
  if (requireEnabled && state !== 'Enabled') throw new KeyDisabledError(arn, state)
  // Postcondition: a symmetric key (seeds: symmetric keys only).
  const spec = meta.KeySpec ?? meta.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT'
  if (spec !== 'SYMMETRIC_DEFAULT') {
    throw new InvalidKeyError(
      arn,
      'KEY_SPEC',
      `its key spec is ${spec}, not SYMMETRIC_DEFAULT`,
      'Create or choose a symmetric encryption key (key spec SYMMETRIC_DEFAULT); asymmetric and HMAC keys cannot wrap data keys.',
    )
  }
  // Postcondition: usable for encryption.
  const usage = meta.KeyUsage ?? 'ENCRYPT_DECRYPT'
  if (usage !== 'ENCRYPT_DECRYPT') {
    throw new InvalidKeyError(
      arn,
      'KEY_USAGE',
      `its key usage is ${usage}, not ENCRYPT_DECRYPT`,
      'Choose a KMS key created with key usage ENCRYPT_DECRYPT.',
    )
  }
  return arn
}
