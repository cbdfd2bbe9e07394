/** The exact KMS requests of the grant lifecycle, asserted on mocked KMS clients (customer and service). */
import { randomBytes } from 'node:crypto'
import {
  CreateGrantCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  KMSClient,
  RetireGrantCommand,
} from '@aws-sdk/client-kms'
import { mockClient } from 'aws-sdk-client-mock'
import { describe, expect, it } from 'vitest'
import { DOMAIN_CONTEXT_KEY, DOMAIN_GRANT_OPERATIONS, ProfileDomains } from '../src/index.js'

const ROLE = 'arn:aws:iam::444455556666:role/profiles-service'
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/11111111-1111-4111-8111-111111111111'
const ORDERS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/22222222-2222-4222-8222-222222222222'
/** The service's own key (it seals the domain records). */
const SERVICE_KEY = 'arn:aws:kms:us-east-1:444455556666:key/33333333-3333-4333-8333-333333333333'

function metadata(arn: string) {
  return {
    KeyMetadata: {
      Arn: arn,
      KeyId: arn.split('/')[1],
      AWSAccountId: arn.split(':')[4],
      KeyState: 'Enabled' as const,
      Enabled: true,
      KeySpec: 'SYMMETRIC_DEFAULT' as const,
      KeyUsage: 'ENCRYPT_DECRYPT' as const,
      KeyManager: 'CUSTOMER' as const,
    },
  }
}

function mocks() {
  const customerKms = new KMSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'c', secretAccessKey: 'c' },
  })
  const serviceKms = new KMSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 's', secretAccessKey: 's' },
  })
  const customer = mockClient(customerKms)
  const service = mockClient(serviceKms)
  let n = 0
  for (const m of [customer, service]) {
    m.on(DescribeKeyCommand).callsFake((input: { KeyId: string }) => metadata(input.KeyId))
  }
  customer.on(CreateGrantCommand).callsFake(() => {
    n++
    return { GrantId: `grant-${n}`, GrantToken: `token-${n}` }
  })
  service.on(RetireGrantCommand).resolves({})
  service.on(GenerateDataKeyCommand).callsFake((input: { KeyId: string }) => ({
    Plaintext: randomBytes(32),
    CiphertextBlob: randomBytes(64),
    KeyId: input.KeyId,
  }))
  return { customerKms, serviceKms, customer, service }
}

describe('grant requests', () => {
  it('createDomain: DescribeKey then two grants per key, for the service role, bound to the domain', async () => {
    const { customerKms, serviceKms, customer, service } = mocks()
    const domains = new ProfileDomains({
      kms: serviceKms,
      servicePrincipal: ROLE,
      serviceKeyArn: SERVICE_KEY,
    })
    await domains.createDomain({
      domainName: 'retail-eu',
      defaultKeyArn: KEY,
      objectTypeKeys: { _order: ORDERS_KEY },
      customerKms,
    })
    expect(customer.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input.KeyId)).toEqual([
      KEY,
      ORDERS_KEY,
    ])
    const grants = customer.commandCalls(CreateGrantCommand).map((c) => c.args[0].input)
    expect(grants).toEqual([
      {
        KeyId: KEY,
        GranteePrincipal: ROLE,
        RetiringPrincipal: ROLE,
        Operations: [
          'Decrypt',
          'GenerateDataKey',
          'GenerateDataKeyWithoutPlaintext',
          'ReEncryptFrom',
          'ReEncryptTo',
        ],
        Constraints: { EncryptionContextSubset: { [DOMAIN_CONTEXT_KEY]: 'retail-eu' } },
        Name: 'customer-profiles-retail-eu',
      },
      {
        KeyId: KEY,
        GranteePrincipal: ROLE,
        RetiringPrincipal: ROLE,
        Operations: ['DescribeKey'],
        Name: 'customer-profiles-retail-eu-describe',
      },
      {
        KeyId: ORDERS_KEY,
        GranteePrincipal: ROLE,
        RetiringPrincipal: ROLE,
        Operations: [...DOMAIN_GRANT_OPERATIONS],
        Constraints: { EncryptionContextSubset: { [DOMAIN_CONTEXT_KEY]: 'retail-eu' } },
        Name: 'customer-profiles-retail-eu',
      },
      {
        KeyId: ORDERS_KEY,
        GranteePrincipal: ROLE,
        RetiringPrincipal: ROLE,
        Operations: ['DescribeKey'],
        Name: 'customer-profiles-retail-eu-describe',
      },
    ])
    // Never Encrypt, never CreateGrant for the service itself.
    expect(DOMAIN_GRANT_OPERATIONS).not.toContain('Encrypt')
    expect(DOMAIN_GRANT_OPERATIONS).not.toContain('CreateGrant')
    // Right after CreateGrant, the service's first call (pinning _order to its key) carries the fresh grant tokens.
    const pin = service
      .commandCalls(DescribeKeyCommand)
      .map((c) => c.args[0].input)
      .filter((input) => input.KeyId !== SERVICE_KEY) // the service key: validated once, seals the record
    expect(pin.map((p) => p.KeyId)).toEqual([ORDERS_KEY])
    expect([...(pin[0]!.GrantTokens ?? [])].sort()).toEqual(['token-1', 'token-2', 'token-3', 'token-4'])

    // deleteDomain: the service retires all four grants, as their retiring principal.
    await domains.deleteDomain('retail-eu')
    expect(service.commandCalls(RetireGrantCommand).map((c) => c.args[0].input)).toEqual([
      { KeyId: KEY, GrantId: 'grant-1' },
      { KeyId: KEY, GrantId: 'grant-2' },
      { KeyId: ORDERS_KEY, GrantId: 'grant-3' },
      { KeyId: ORDERS_KEY, GrantId: 'grant-4' },
    ])
    expect(customer.commandCalls(RetireGrantCommand)).toEqual([])
  })

  it('a failed second CreateGrant retires the first (no orphan grant)', async () => {
    const { customerKms, serviceKms, customer, service } = mocks()
    customer
      .on(CreateGrantCommand)
      .resolvesOnce({ GrantId: 'grant-1', GrantToken: 'token-1' })
      .rejectsOnce(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }))
    const domains = new ProfileDomains({
      kms: serviceKms,
      servicePrincipal: ROLE,
      serviceKeyArn: SERVICE_KEY,
    })
    await expect(
      domains.createDomain({ domainName: 'retail-eu', defaultKeyArn: KEY, customerKms }),
    ).rejects.toMatchObject({ code: 'ERR_KEY_ACCESS_DENIED', keyId: KEY, operation: 'CreateGrant' })
    expect(service.commandCalls(RetireGrantCommand).map((c) => c.args[0].input)).toEqual([
      { KeyId: KEY, GrantId: 'grant-1' },
    ])
  })

  it('a failure after the grants exist undoes everything: grants retired, no domain recorded', async () => {
    const { customerKms, serviceKms, service } = mocks()
    // Pinning _order to its key (after the record is written) fails.
    service
      .on(DescribeKeyCommand, { KeyId: ORDERS_KEY })
      .rejects(Object.assign(new Error('boom'), { name: 'KMSInternalException' }))
    const domains = new ProfileDomains({
      kms: serviceKms,
      servicePrincipal: ROLE,
      serviceKeyArn: SERVICE_KEY,
    })
    await expect(
      domains.createDomain({
        domainName: 'retail-eu',
        defaultKeyArn: KEY,
        objectTypeKeys: { _order: ORDERS_KEY },
        customerKms,
      }),
    ).rejects.toMatchObject({ code: 'ERR_KMS_UNAVAILABLE' })
    expect(service.commandCalls(RetireGrantCommand).map((c) => c.args[0].input.GrantId)).toEqual([
      'grant-1',
      'grant-2',
      'grant-3',
      'grant-4',
    ])
    await expect(domains.describeDomain('retail-eu')).rejects.toMatchObject({ code: 'ERR_CONFIGURATION' })
  })

  it('an unusable service key fails createDomain before any grant is created', async () => {
    const { customerKms, serviceKms, customer, service } = mocks()
    service.on(DescribeKeyCommand, { KeyId: SERVICE_KEY }).resolves({
      KeyMetadata: { ...metadata(SERVICE_KEY).KeyMetadata, KeyState: 'Disabled', Enabled: false },
    })
    const domains = new ProfileDomains({
      kms: serviceKms,
      servicePrincipal: ROLE,
      serviceKeyArn: SERVICE_KEY,
    })
    await expect(
      domains.createDomain({ domainName: 'retail-eu', defaultKeyArn: KEY, customerKms }),
    ).rejects.toMatchObject({ name: 'KeyDisabledError', keyId: SERVICE_KEY })
    expect(customer.commandCalls(CreateGrantCommand)).toEqual([])
    expect(service.commandCalls(GenerateDataKeyCommand)).toEqual([])
  })

  it('refuses an AWS managed key (KeyManager AWS) before creating any grant', async () => {
    const { customerKms, serviceKms, customer } = mocks()
    customer
      .on(DescribeKeyCommand)
      .resolves({ KeyMetadata: { ...metadata(KEY).KeyMetadata, KeyManager: 'AWS' } })
    const domains = new ProfileDomains({
      kms: serviceKms,
      servicePrincipal: ROLE,
      serviceKeyArn: SERVICE_KEY,
    })
    await expect(
      domains.createDomain({ domainName: 'retail-eu', defaultKeyArn: KEY, customerKms }),
    ).rejects.toMatchObject({ name: 'InvalidKeyError', reason: 'NOT_ALLOWED' })
    expect(customer.commandCalls(CreateGrantCommand)).toEqual([])
  })

  it('refuses a service principal that is not a role or user ARN', () => {
    const { serviceKms } = mocks()
    expect(
      () => new ProfileDomains({ kms: serviceKms, servicePrincipal: 'profiles', serviceKeyArn: SERVICE_KEY }),
    ).toThrow(/servicePrincipal/)
  })

  it("refuses a service key that is not a key ARN of the service's account", () => {
    const { serviceKms } = mocks()
    for (const serviceKeyArn of [
      undefined,
      KEY, // the customer's account: not the service's own key
      'arn:aws:kms:us-east-1:444455556666:alias/profiles', // an alias: the record's key must be fixed
    ]) {
      expect(
        () =>
          new ProfileDomains({
            kms: serviceKms,
            servicePrincipal: ROLE,
            serviceKeyArn: serviceKeyArn as string,
          }),
      ).toThrow(/serviceKeyArn/)
    }
  })
})
