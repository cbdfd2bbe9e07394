/**
 * KMS key references that say whose key it is. AWS services encrypt with a key in the service's own
 * account by default (service-owned) and let customers bring a customer managed key from their account;
 * the two need different trust checks (owner account, grants), so the reference carries the kind.
 */
import { ConfigurationError } from '../errors/errors.js'

/** Who owns the KMS key: the service's own account, or the customer's account. */
export type KeyOwnership = 'service-owned' | 'customer-managed'

/** The parts of a KMS key or alias ARN. */
export interface KmsArn {
  /** The full ARN as given. */
  readonly arn: string
  /** `aws`, `aws-cn`, `aws-us-gov`, … */
  readonly partition: string
  readonly region: string
  /** 12-digit account id. */
  readonly accountId: string
  /** `key` (a key ARN) or `alias` (an alias ARN). */
  readonly resourceType: 'key' | 'alias'
  /** Key id (`<uuid>` or `mrk-<32 hex>`) or alias name (`alias/…`). */
  readonly resourceId: string
  /** True for a multi-Region key id (`mrk-…`). */
  readonly multiRegion: boolean
}

/** A KMS key (or alias) with its ownership. */
export interface KeyRef extends KmsArn {
  readonly kind: KeyOwnership
}

const ARN =
  /^arn:(aws(?:-[a-z]+)*):kms:([a-z]{2,4}(?:-[a-z]+)+-\d{1,2}):(\d{12}):(key\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})|alias\/[A-Za-z0-9/_-]{1,250})$/

/**
 * Parse a KMS key ARN (`…:key/<uuid>`, `…:key/mrk-…`) or alias ARN (`…:alias/<name>`), or return
 * `undefined` when `arn` is not one.
 *
 * @example
 * ```ts
 * import { tryParseKmsArn } from '@kms-envelope/core'
 * tryParseKmsArn('arn:aws:kms:us-east-1:111122223333:alias/app')?.accountId // '111122223333'
 * tryParseKmsArn('alias/app') // undefined
 * ```
 */
export function tryParseKmsArn(arn: string): KmsArn | undefined {
  if (typeof arn !== 'string') return undefined
  const m = ARN.exec(arn)
  if (!m) return undefined
  const [, partition, region, accountId, resource] = m as unknown as [string, string, string, string, string]
  const resourceType = resource.startsWith('key/') ? 'key' : 'alias'
  const resourceId = resourceType === 'key' ? resource.slice(4) : resource
  return {
    arn,
    partition,
    region,
    accountId,
    resourceType,
    resourceId,
    multiRegion: resourceId.startsWith('mrk-'),
  }
}

/**
 * True when `value` is a full KMS key ARN (`arn:<partition>:kms:<region>:<account>:key/<uuid or mrk-…>`),
 * as KMS returns in `KeyId` and as stored records name keys: not an alias, alias ARN or bare key id.
 *
 * @example
 * ```ts
 * import { isKmsKeyArn } from '@kms-envelope/core'
 * isKmsKeyArn('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab') // true
 * isKmsKeyArn('arn:aws:kms:us-east-1:111122223333:alias/app') // false
 * ```
 */
export function isKmsKeyArn(value: unknown): value is string {
  return typeof value === 'string' && tryParseKmsArn(value)?.resourceType === 'key'
}

/**
 * Parse a KMS key or alias ARN; throws ConfigurationError when `arn` is not one.
 *
 * @example
 * ```ts
 * import { parseKmsArn } from '@kms-envelope/core'
 * const { region, accountId } = parseKmsArn('arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef')
 * ```
 */
export function parseKmsArn(arn: string): KmsArn {
  const parsed = tryParseKmsArn(arn)
  // Precondition: a well-formed KMS key or alias ARN.
  if (!parsed) {
    throw new ConfigurationError(
      `"${String(arn)}" is not a KMS key ARN or alias ARN.`,
      'Use arn:<partition>:kms:<region>:<12-digit account>:key/<key id> (or :alias/<name>), as shown by DescribeKey.',
    )
  }
  return parsed
}

/**
 * A key in the service's own account: the default when you encrypt data on your customers' behalf.
 *
 * @example
 * ```ts
 * import { serviceOwnedKey } from '@kms-envelope/core'
 * const key = serviceOwnedKey('arn:aws:kms:us-east-1:444455556666:alias/profiles-data')
 * ```
 */
export function serviceOwnedKey(arn: string): KeyRef {
  return { kind: 'service-owned', ...parseKmsArn(arn) }
}

/**
 * A customer managed key: a key in the customer's account, used by the service through the key policy
 * or a grant. AWS managed keys (`alias/aws/…`) are not customer managed keys and are refused.
 *
 * @example
 * ```ts
 * import { customerManagedKey, validateKey } from '@kms-envelope/core'
 * const key = customerManagedKey('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab')
 * await validateKey(kmsClient, key, { grantTokens: [token] }) // checks the owner is 111122223333
 * ```
 */
export function customerManagedKey(arn: string): KeyRef {
  const parsed = parseKmsArn(arn)
  // Precondition: not an AWS managed key alias.
  if (parsed.resourceType === 'alias' && parsed.resourceId.startsWith('alias/aws/')) {
    throw new ConfigurationError(
      `${arn} names an AWS managed key, not a customer managed key.`,
      'Ask the customer for the ARN of a symmetric customer managed key in their account.',
    )
  }
  return { kind: 'customer-managed', ...parsed }
}
