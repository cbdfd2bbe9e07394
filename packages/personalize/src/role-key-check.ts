/**
 * "The key must be usable by the given role": before a dataset group exists, its customer managed key is
 * described and used once by the role itself (DescribeKey, then GenerateDataKey and Decrypt of a canary
 * under the group's encryption context), so a key policy that forgets the role fails at creation, before
 * any data is imported, with an error naming the role, the key and the missing permission.
 */
import type { KMSClient } from '@aws-sdk/client-kms'
import {
  type EncryptionContext,
  Envelope,
  KeyAccessDeniedError,
  type KeyRef,
  type KeySummary,
  KmsKeyring,
  UnexpectedKmsResponseError,
  validateKey,
} from '@kms-envelope/core'
import { RoleKeyAccessDeniedError } from './errors.js'

/**
 * What {@link checkRoleKeyAccess} checks.
 *
 * @example
 * ```ts
 * const check: RoleKeyCheck = { client: roleKms, roleArn, key: customerManagedKey(arn), datasetGroupArn, context }
 * ```
 */
export interface RoleKeyCheck {
  /** A KMS client acting as the role (its credentials are the role's). */
  readonly client: KMSClient
  readonly roleArn: string
  /** The customer managed key (a key or alias ARN). */
  readonly key: KeyRef
  /** The dataset group the key is for (named in errors). */
  readonly datasetGroupArn: string
  /** Encryption context of the canary round trip; use the group's own context so key-policy conditions apply. */
  readonly context: EncryptionContext
}

const CANARY = 'kms-envelope/personalize key check'

/**
 * Turn a key-access denial into a {@link RoleKeyAccessDeniedError} naming the role and the dataset group;
 * other errors pass through.
 *
 * @example
 * ```ts
 * import { asRoleError } from '@kms-envelope/personalize'
 * try { await work() } catch (err) { throw asRoleError(err, roleArn, datasetGroupArn) }
 * ```
 */
export function asRoleError(err: unknown, roleArn: string, datasetGroupArn: string): unknown {
  if (err instanceof RoleKeyAccessDeniedError || !(err instanceof KeyAccessDeniedError)) return err
  return new RoleKeyAccessDeniedError(roleArn, err.keyId, err.operation, datasetGroupArn, { cause: err })
}

/**
 * As the role: validate the key (exists, Enabled, symmetric ENCRYPT_DECRYPT, owned by the ARN's account),
 * then GenerateDataKey and Decrypt a canary under `context`. Returns the key's summary (an alias resolved to
 * its key ARN). Throws RoleKeyAccessDeniedError (with the operation the role lacks), KeyNotFoundError,
 * KeyDisabledError or InvalidKeyError.
 *
 * @example
 * ```ts
 * import { customerManagedKey } from '@kms-envelope/core'
 * import { checkRoleKeyAccess } from '@kms-envelope/personalize'
 * const summary = await checkRoleKeyAccess({
 *   client: roleKmsClient, roleArn, key: customerManagedKey(kmsKeyArn),
 *   datasetGroupArn, context: { datasetGroup: datasetGroupArn, dataset: 'key-check' },
 * })
 * ```
 */
export async function checkRoleKeyAccess(check: RoleKeyCheck): Promise<KeySummary> {
  const { client, roleArn, datasetGroupArn, context } = check
  try {
    // Precondition: the key is a usable symmetric encryption key, and the role may describe it.
    const summary = await validateKey(client, check.key)
    // One fresh data key (no cache), so both calls reach KMS as the role.
    const envelope = new Envelope({
      keyring: new KmsKeyring({ client, generatorKeyId: summary.arn }),
      cache: false,
    })
    const sealed = await envelope.encrypt(CANARY, { context })
    const opened = await envelope.decryptString(sealed, { expectedContext: context })
    // Postcondition: the canary came back as it went in.
    if (opened !== CANARY) {
      throw new UnexpectedKmsResponseError(
        'Decrypt',
        `the key-check canary did not round-trip under ${summary.arn}`,
      )
    }
    return summary
  } catch (err) {
    throw asRoleError(err, roleArn, datasetGroupArn)
  }
}
