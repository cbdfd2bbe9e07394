/**
 * The KMS grants through which the service uses a customer's key for one domain, as Customer Profiles
 * does ("Amazon Connect Customer Profiles creates a grant to the CMK that grants it access to the CMK").
 * Two grants per (domain, key): the cryptographic operations constrained to the domain's encryption
 * context, and DescribeKey alone (KMS refuses grant constraints on DescribeKey).
 */
import {
  CreateGrantCommand,
  type CreateGrantCommandInput,
  type GrantOperation,
  type KMSClient,
  RetireGrantCommand,
} from '@aws-sdk/client-kms'
import { mapKmsError, UnexpectedKmsResponseError } from '@kms-envelope/core'
import { DOMAIN_CONTEXT_KEY } from './names.js'
import type { DomainGrant } from './profile-store.js'

/**
 * What the service may do with a domain's key through its grant: make data keys (for new scope key
 * versions, with or without plaintext), unwrap them, and re-wrap them between the domain's keys on a
 * key switch. Not Encrypt (the service never wraps caller-chosen bytes), not CreateGrant.
 */
export const DOMAIN_GRANT_OPERATIONS: readonly GrantOperation[] = [
  'Decrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
]

/**
 * The grant name for a domain (CreateGrant with the same name and parameters is idempotent).
 *
 * @example
 * ```ts
 * import { grantName } from '@kms-envelope/customer-profiles'
 * grantName('retail-eu') // 'customer-profiles-retail-eu'
 * ```
 */
export function grantName(domainName: string, purpose: 'crypto' | 'describe' = 'crypto'): string {
  return purpose === 'crypto' ? `customer-profiles-${domainName}` : `customer-profiles-${domainName}-describe`
}

/**
 * The CreateGrant request for the domain's cryptographic grant: grantee and retiring principal are the
 * service, operations {@link DOMAIN_GRANT_OPERATIONS}, constraint `EncryptionContextSubset` binding the
 * domain, so the grant cannot be used for another domain's data.
 *
 * @example
 * ```ts
 * import { CreateGrantCommand } from '@aws-sdk/client-kms'
 * import { domainGrantRequest } from '@kms-envelope/customer-profiles'
 * await customerKms.send(new CreateGrantCommand(domainGrantRequest(keyArn, 'retail-eu', serviceRoleArn)))
 * ```
 */
export function domainGrantRequest(
  keyArn: string,
  domainName: string,
  servicePrincipal: string,
): CreateGrantCommandInput {
  return {
    KeyId: keyArn,
    GranteePrincipal: servicePrincipal,
    RetiringPrincipal: servicePrincipal,
    Operations: [...DOMAIN_GRANT_OPERATIONS],
    Constraints: { EncryptionContextSubset: { [DOMAIN_CONTEXT_KEY]: domainName } },
    Name: grantName(domainName),
  }
}

/**
 * The CreateGrant request for the DescribeKey grant (no constraint: KMS allows none with DescribeKey).
 *
 * @example
 * ```ts
 * import { describeGrantRequest } from '@kms-envelope/customer-profiles'
 * describeGrantRequest(keyArn, 'retail-eu', serviceRoleArn).Operations // ['DescribeKey']
 * ```
 */
export function describeGrantRequest(
  keyArn: string,
  domainName: string,
  servicePrincipal: string,
): CreateGrantCommandInput {
  return {
    KeyId: keyArn,
    GranteePrincipal: servicePrincipal,
    RetiringPrincipal: servicePrincipal,
    Operations: ['DescribeKey'],
    Name: grantName(domainName, 'describe'),
  }
}

async function createGrant(creator: KMSClient, input: CreateGrantCommandInput): Promise<[string, string]> {
  let out: { GrantId?: string; GrantToken?: string }
  try {
    out = await creator.send(new CreateGrantCommand(input))
  } catch (err) {
    throw mapKmsError(err, { operation: 'CreateGrant', keyId: input.KeyId })
  }
  // Postcondition: KMS returned the grant id and its token.
  if (!out.GrantId || !out.GrantToken) {
    throw new UnexpectedKmsResponseError('CreateGrant', `no GrantId or GrantToken for ${input.KeyId}`)
  }
  return [out.GrantId, out.GrantToken]
}

/**
 * Create both grants of (domain, key) with `creator` (a client with the customer's authority over the
 * key: their own credentials, or the service's when the key policy lets it create grants). On failure of
 * the second, the first is retired again by `service`. `now` (ms since the epoch) is recorded as the
 * grant's `createdAt`.
 *
 * @example
 * ```ts
 * import { createDomainGrants } from '@kms-envelope/customer-profiles'
 * const grant = await createDomainGrants({
 *   creator: customerKms,
 *   service: serviceKms,
 *   keyArn,
 *   domainName: 'retail-eu',
 *   servicePrincipal,
 *   now: Date.now(),
 * })
 * ```
 */
export async function createDomainGrants(args: {
  readonly creator: KMSClient
  readonly service: KMSClient
  readonly keyArn: string
  readonly domainName: string
  readonly servicePrincipal: string
  readonly now: number
}): Promise<DomainGrant> {
  const { creator, keyArn, domainName, servicePrincipal } = args
  const [grantId, grantToken] = await createGrant(
    creator,
    domainGrantRequest(keyArn, domainName, servicePrincipal),
  )
  let describe: [string, string]
  try {
    describe = await createGrant(creator, describeGrantRequest(keyArn, domainName, servicePrincipal))
  } catch (err) {
    await retireGrant(args.service, keyArn, grantId).catch(() => undefined)
    throw err
  }
  return {
    keyArn,
    grantId,
    grantToken,
    describeGrantId: describe[0],
    describeGrantToken: describe[1],
    createdAt: args.now,
  }
}

/** RetireGrant as the retiring principal; a grant already gone (revoked or retired) counts as retired. */
async function retireGrant(service: KMSClient, keyArn: string, grantId: string): Promise<void> {
  try {
    await service.send(new RetireGrantCommand({ KeyId: keyArn, GrantId: grantId }))
  } catch (err) {
    const name = (err as { name?: unknown })?.name
    if (name === 'NotFoundException') return
    throw mapKmsError(err, { operation: 'RetireGrant', keyId: keyArn })
  }
}

/**
 * Retire both grants of (domain, key) with the service's client (the retiring principal). Grants the
 * customer already revoked are skipped. Returns the grant ids.
 *
 * @example
 * ```ts
 * import { retireDomainGrants } from '@kms-envelope/customer-profiles'
 * await retireDomainGrants(serviceKms, record.grants[oldKeyArn])
 * ```
 */
export async function retireDomainGrants(service: KMSClient, grant: DomainGrant): Promise<string[]> {
  await retireGrant(service, grant.keyArn, grant.grantId)
  await retireGrant(service, grant.keyArn, grant.describeGrantId)
  return [grant.grantId, grant.describeGrantId]
}
