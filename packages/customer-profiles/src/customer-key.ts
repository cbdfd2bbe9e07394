import type { KMSClient } from '@aws-sdk/client-kms'
import { customerManagedKey, type KeySummary, validateKey } from '@kms-envelope/core'

/**
 * Check a key a customer gives for a domain or object type with core's `validateKey` (exists, Enabled,
 * SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, owned by the account in its ARN or `expectedAccountId`), and that it
 * is customer managed (KeyManager `CUSTOMER`; AWS managed keys cannot take the service's grant). Returns
 * the key's summary; `arn` is the key ARN even when an alias ARN was given.
 *
 * Precondition: `client` may DescribeKey the key (the customer's own credentials, or the service's when
 * the key policy allows it).
 *
 * @example
 * ```ts
 * import { validateCustomerKey } from '@kms-envelope/customer-profiles'
 * const { arn } = await validateCustomerKey(customerKms, 'arn:aws:kms:us-east-1:111122223333:alias/profiles')
 * ```
 */
export async function validateCustomerKey(
  client: KMSClient,
  keyArn: string,
  options: { readonly expectedAccountId?: string } = {},
): Promise<KeySummary> {
  // core's validateKey refuses a customer-managed reference to a key not managed by the customer.
  return validateKey(
    client,
    customerManagedKey(keyArn),
    options.expectedAccountId === undefined ? {} : { expectedAccountId: options.expectedAccountId },
  )
}
