/**
 * Names and ARNs of the Personalize side: dataset group names, dataset group ARNs (used as the encryption
 * context, so data of one group never opens as another's), and IAM role ARNs.
 */
import { ConfigurationError } from '@kms-envelope/core'

/**
 * The datasets a dataset group holds (one of each), as in Amazon Personalize.
 *
 * @example
 * ```ts
 * import { DATASET_TYPES } from '@kms-envelope/personalize'
 * for (const type of DATASET_TYPES) console.log(type, group.contextOf(type))
 * ```
 */
export const DATASET_TYPES = ['Interactions', 'Items', 'Users'] as const

/**
 * A dataset type: `Interactions`, `Items` or `Users`.
 *
 * @example
 * ```ts
 * const type: DatasetType = 'Interactions'
 * ```
 */
export type DatasetType = (typeof DATASET_TYPES)[number]

const GROUP_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/
const ROLE_ARN = /^arn:(aws(?:-[a-z]+)*):iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/

/**
 * Check a dataset group name: 1–63 characters, letters, digits, `-` and `_`, starting with a letter or digit
 * (Amazon Personalize's rule). Throws ConfigurationError otherwise.
 *
 * @example
 * ```ts
 * import { assertDatasetGroupName } from '@kms-envelope/personalize'
 * assertDatasetGroupName('movie-recs') // ok
 * assertDatasetGroupName('my group') // throws ConfigurationError
 * ```
 */
export function assertDatasetGroupName(name: string): void {
  // Precondition: a Personalize resource name.
  if (typeof name !== 'string' || !GROUP_NAME.test(name)) {
    throw new ConfigurationError(
      `"${String(name)}" is not a valid dataset group name.`,
      'Use 1-63 letters, digits, "-" or "_", starting with a letter or digit.',
    )
  }
}

/**
 * Check a dataset type. Throws ConfigurationError for anything but `Interactions`, `Items`, `Users`.
 *
 * @example
 * ```ts
 * import { assertDatasetType } from '@kms-envelope/personalize'
 * assertDatasetType('Items') // ok
 * ```
 */
export function assertDatasetType(type: string): asserts type is DatasetType {
  // Precondition: one of the dataset types.
  if (!(DATASET_TYPES as readonly string[]).includes(type)) {
    throw new ConfigurationError(
      `"${String(type)}" is not a dataset type.`,
      `Use one of ${DATASET_TYPES.join(', ')}.`,
    )
  }
}

/**
 * The parts of an IAM role ARN.
 *
 * @example
 * ```ts
 * const role: RoleArn = parseRoleArn('arn:aws:iam::111122223333:role/PersonalizeRole')
 * ```
 */
export interface RoleArn {
  readonly arn: string
  readonly partition: string
  readonly accountId: string
}

/**
 * Parse an IAM role ARN (`arn:aws:iam::<account>:role/<path/name>`). Throws ConfigurationError otherwise.
 *
 * @example
 * ```ts
 * import { parseRoleArn } from '@kms-envelope/personalize'
 * parseRoleArn('arn:aws:iam::111122223333:role/PersonalizeRole').accountId // '111122223333'
 * ```
 */
export function parseRoleArn(arn: string): RoleArn {
  const m = typeof arn === 'string' ? ROLE_ARN.exec(arn) : null
  // Precondition: an IAM role ARN.
  if (!m) {
    throw new ConfigurationError(
      `"${String(arn)}" is not an IAM role ARN.`,
      'Pass the ARN of the Amazon Personalize service role: arn:aws:iam::<account>:role/<name>.',
    )
  }
  return { arn, partition: m[1]!, accountId: m[2]! }
}

/**
 * The ARN of a dataset group: `arn:<partition>:personalize:<region>:<account>:dataset-group/<name>`.
 *
 * @example
 * ```ts
 * import { datasetGroupArn } from '@kms-envelope/personalize'
 * datasetGroupArn({ partition: 'aws', region: 'us-east-1', accountId: '111122223333' }, 'movies')
 * // 'arn:aws:personalize:us-east-1:111122223333:dataset-group/movies'
 * ```
 */
export function datasetGroupArn(
  where: { readonly partition: string; readonly region: string; readonly accountId: string },
  name: string,
): string {
  assertDatasetGroupName(name)
  return `arn:${where.partition}:personalize:${where.region}:${where.accountId}:dataset-group/${name}`
}
