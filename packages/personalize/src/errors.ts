/**
 * The errors this package adds to core's. Everything KMS-related stays a core error (KeyDisabledError,
 * InvalidKeyError, TamperedCiphertextError, EncryptionContextMismatchError, …); these cover what only a
 * dataset group has: the role it acts as, its fixed key, and its lifecycle.
 */
import { KeyAccessDeniedError, KmsEnvelopeError } from '@kms-envelope/core'

/**
 * The KMS permissions Amazon Personalize's service role needs on a customer managed key for dataset groups.
 *
 * @example
 * ```ts
 * import { ROLE_KEY_PERMISSIONS } from '@kms-envelope/personalize'
 * const statement = { Effect: 'Allow', Principal: { AWS: roleArn }, Action: [...ROLE_KEY_PERMISSIONS], Resource: '*' }
 * ```
 */
export const ROLE_KEY_PERMISSIONS = ['kms:DescribeKey', 'kms:GenerateDataKey', 'kms:Decrypt'] as const

/**
 * The dataset group's IAM service role may not use its KMS key for one operation. A
 * {@link KeyAccessDeniedError} (code `ERR_KEY_ACCESS_DENIED`) that also names the role and the dataset
 * group, thrown at creation (before any data is touched) or by a later import or read if access was revoked.
 *
 * @example
 * ```ts
 * import { RoleKeyAccessDeniedError } from '@kms-envelope/personalize'
 * try {
 *   await personalize.createDatasetGroup({ name: 'movies', kmsKeyArn, roleArn })
 * } catch (err) {
 *   if (err instanceof RoleKeyAccessDeniedError) console.error(err.roleArn, err.keyId, err.operation)
 *   else throw err
 * }
 * ```
 */
export class RoleKeyAccessDeniedError extends KeyAccessDeniedError {
  /** The IAM role the dataset group uses the key as. */
  readonly roleArn: string
  /** The dataset group's ARN. */
  readonly datasetGroupArn: string
  override readonly remedy: string

  constructor(
    roleArn: string,
    keyId: string | undefined,
    operation: string | undefined,
    datasetGroupArn: string,
    options?: { cause?: unknown },
  ) {
    super(keyId, operation, { ...options, principal: roleArn })
    this.roleArn = roleArn
    this.datasetGroupArn = datasetGroupArn
    this.remedy = `Add a statement to the key policy of ${keyId ?? 'the key'} allowing ${ROLE_KEY_PERMISSIONS.join(', ')} for principal ${roleArn} (Amazon Personalize needs them for dataset groups), then retry.`
    this.message = `Role ${roleArn} may not use KMS key ${keyId ?? '(unknown)'}${operation ? ` for kms:${operation}` : ''} (dataset group ${datasetGroupArn}). ${this.remedy}`
  }
}

/**
 * A dataset group's KMS key is fixed when the group is created (as in Amazon Personalize): an attempt to
 * give an existing group another key.
 *
 * @example
 * ```ts
 * import { DatasetGroupKeyImmutableError } from '@kms-envelope/personalize'
 * try {
 *   await personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: otherKeyArn, roleArn })
 * } catch (err) {
 *   if (err instanceof DatasetGroupKeyImmutableError) console.error(err.currentKeyArn)
 * }
 * ```
 */
export class DatasetGroupKeyImmutableError extends KmsEnvelopeError {
  readonly datasetGroupArn: string
  /** The key the group was created with. */
  readonly currentKeyArn: string
  /** The key that was asked for (undefined: the service-owned key). */
  readonly requestedKeyArn: string | undefined

  constructor(datasetGroupArn: string, currentKeyArn: string, requestedKeyArn: string | undefined) {
    super(
      'ERR_DATASET_GROUP_KEY_IMMUTABLE',
      `Dataset group ${datasetGroupArn} is encrypted with ${currentKeyArn}; its key cannot be changed to ${requestedKeyArn ?? 'the service-owned key'}.`,
      'Create a new dataset group with the new key and import the data into it, then delete the old group.',
    )
    this.datasetGroupArn = datasetGroupArn
    this.currentKeyArn = currentKeyArn
    this.requestedKeyArn = requestedKeyArn
  }
}

/**
 * A dataset group that does not exist, already exists, or was deleted (code `ERR_DATASET_GROUP`).
 *
 * @example
 * ```ts
 * import { DatasetGroupError } from '@kms-envelope/personalize'
 * try {
 *   await personalize.getDatasetGroup('movies')
 * } catch (err) {
 *   if (err instanceof DatasetGroupError && err.reason === 'NOT_FOUND') console.error(err.message)
 * }
 * ```
 */
export class DatasetGroupError extends KmsEnvelopeError {
  readonly reason: 'NOT_FOUND' | 'ALREADY_EXISTS' | 'DELETED'
  readonly datasetGroup: string

  constructor(reason: DatasetGroupError['reason'], datasetGroup: string) {
    const [detail, remedy] =
      reason === 'NOT_FOUND'
        ? [`Dataset group ${datasetGroup} does not exist.`, 'Create it with createDatasetGroup first.']
        : reason === 'ALREADY_EXISTS'
          ? [
              `Dataset group ${datasetGroup} already exists.`,
              'Use getDatasetGroup to reach it, or choose another name.',
            ]
          : [
              `Dataset group ${datasetGroup} was deleted, with its data.`,
              'Create a new dataset group and import the data again.',
            ]
    super('ERR_DATASET_GROUP', detail, remedy)
    this.reason = reason
    this.datasetGroup = datasetGroup
  }
}

/**
 * A dataset group's registry record was refused when opened: it was modified, replaced by another group's
 * record, forged, or does not describe the group (code `ERR_DATASET_GROUP_RECORD`). The record is not used,
 * so no data is read or imported with the key or role it names. `cause` is the core error (e.g.
 * TamperedCiphertextError, EncryptionContextMismatchError) when there is one.
 *
 * @example
 * ```ts
 * import { DatasetGroupRecordError } from '@kms-envelope/personalize'
 * try {
 *   await personalize.getDatasetGroup('movies')
 * } catch (err) {
 *   if (err instanceof DatasetGroupRecordError) console.error(err.reason, err.datasetGroupArn, err.remedy)
 *   else throw err
 * }
 * ```
 */
export class DatasetGroupRecordError extends KmsEnvelopeError {
  /**
   * `TAMPERED`: the record does not authenticate under the service key (edited, truncated, forged, or sealed
   * under another key); `OTHER_GROUP`: an authentic record of another dataset group (copied or swapped);
   * `INVALID`: authentic but not a record of this group (fields missing or inconsistent).
   */
  readonly reason: 'TAMPERED' | 'OTHER_GROUP' | 'INVALID'
  readonly datasetGroupArn: string

  constructor(
    reason: DatasetGroupRecordError['reason'],
    datasetGroupArn: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    const what =
      reason === 'TAMPERED'
        ? 'does not authenticate under the service key (it was modified, cut, forged or sealed under another key)'
        : reason === 'OTHER_GROUP'
          ? 'is the record of another dataset group (copied or swapped in the registry)'
          : 'is not a valid record of this dataset group'
    super(
      'ERR_DATASET_GROUP_RECORD',
      `The registry record of dataset group ${datasetGroupArn} ${what}: ${detail}. It was not used: no data was read or imported with the key or role it names.`,
      'Restore the record from a backup of the registry (only records sealed by this service open), and find out who could write to the registry. Do not delete and re-create the group to get past this: its imported data would be orphaned.',
      options,
    )
    this.reason = reason
    this.datasetGroupArn = datasetGroupArn
  }
}
