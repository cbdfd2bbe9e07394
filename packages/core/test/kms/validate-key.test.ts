import { DescribeKeyCommand, type KeyMetadata, KMSClient, NotFoundException } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  customerManagedKey,
  InvalidKeyError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KeyNotFoundError,
  serviceOwnedKey,
  validateKey,
} from '@kms-envelope/core'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'

const CUSTOMER = '111122223333'
const ARN = `arn:aws:kms:us-east-1:${CUSTOMER}:key/1234abcd-12ab-34cd-56ef-1234567890ab`
const ALIAS = `arn:aws:kms:us-east-1:${CUSTOMER}:alias/profiles`

const client = new KMSClient({ region: 'us-east-1' })
const kms = mockClient(client)

function meta(over: Partial<KeyMetadata> = {}): KeyMetadata {
  return {
    KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
    Arn: ARN,
    AWSAccountId: CUSTOMER,
    KeyState: 'Enabled',
    Enabled: true,
    KeySpec: 'SYMMETRIC_DEFAULT',
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyManager: 'CUSTOMER',
    Origin: 'AWS_KMS',
    MultiRegion: false,
    ...over,
  }
}

beforeEach(() => kms.reset())

describe('validateKey', () => {
  it('accepts a symmetric enabled key of the expected account and sends the grant tokens', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: meta() })
    const summary = await validateKey(client, customerManagedKey(ALIAS), { grantTokens: ['gt-1'] })
    expect(summary).toEqual({
      arn: ARN,
      keyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
      accountId: CUSTOMER,
      kind: 'customer-managed',
      keyManager: 'CUSTOMER',
      multiRegion: false,
      origin: 'AWS_KMS',
    })
    expect(kms.commandCalls(DescribeKeyCommand)[0]!.args[0].input).toEqual({
      KeyId: ALIAS,
      GrantTokens: ['gt-1'],
    })
  })

  it('a customer managed key must be managed by the customer; a service-owned key may be AWS managed', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: meta({ KeyManager: 'AWS' }) })
    const err = await validateKey(client, customerManagedKey(ARN)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect(err).toMatchObject({ reason: 'NOT_ALLOWED' })
    expect((err as Error).message).toMatch(/managed by AWS/)
    await expect(validateKey(client, serviceOwnedKey(ARN))).resolves.toMatchObject({ keyManager: 'AWS' })
  })

  it('refuses a plain-HTTP endpoint that is not loopback before calling DescribeKey', async () => {
    const insecure = new KMSClient({ region: 'us-east-1', endpoint: 'http://kms.internal.example' })
    const sent: unknown[] = []
    insecure.middlewareStack.add((next) => async (args) => {
      sent.push(args)
      return next(args)
    })
    await expect(validateKey(insecure, customerManagedKey(ARN))).rejects.toBeInstanceOf(ConfigurationError)
    expect(sent).toEqual([])
  })

  it('missing key → KeyNotFoundError with the KMS exception as cause', async () => {
    const nf = new NotFoundException({ message: 'Key not found', $metadata: { httpStatusCode: 400 } })
    kms.on(DescribeKeyCommand).rejects(nf)
    const err = await validateKey(client, serviceOwnedKey(ARN)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyNotFoundError)
    expect((err as Error).cause).toBe(nf)
  })

  it.each([
    ['Disabled', /EnableKey/],
    ['PendingDeletion', /CancelKeyDeletion/],
    ['PendingImport', /PendingImport/],
    ['Unavailable', /Unavailable/],
  ])('state %s → KeyDisabledError', async (state, message) => {
    kms
      .on(DescribeKeyCommand)
      .resolves({ KeyMetadata: meta({ KeyState: state as KeyMetadata['KeyState'], Enabled: false }) })
    const err = await validateKey(client, serviceOwnedKey(ARN)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect(err).toMatchObject({ keyState: state, keyId: ARN })
    expect((err as Error).message).toMatch(message)
  })

  it.each([
    [{ KeySpec: 'RSA_2048' as const }, 'KEY_SPEC', /symmetric/],
    [
      { KeySpec: 'HMAC_256' as const, KeyUsage: 'GENERATE_VERIFY_MAC' as const },
      'KEY_SPEC',
      /SYMMETRIC_DEFAULT/,
    ],
    [{ KeyUsage: 'SIGN_VERIFY' as const }, 'KEY_USAGE', /ENCRYPT_DECRYPT/],
    [{ AWSAccountId: '999999999999' }, 'OWNER', /customer's own account/],
  ])('%o → InvalidKeyError %s', async (over, reason, message) => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: meta(over) })
    const err = await validateKey(client, customerManagedKey(ARN)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect((err as InvalidKeyError).reason).toBe(reason)
    expect((err as Error).message).toMatch(message)
  })

  it('expectedAccountId overrides the ARN account (e.g. an alias that must resolve to the service account)', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: meta() })
    const err = await validateKey(client, serviceOwnedKey(ARN), { expectedAccountId: '444455556666' }).catch(
      (e: unknown) => e,
    )
    expect(err).toMatchObject({ reason: 'OWNER' })
    expect((err as Error).message).toMatch(/service's own account/)
    await expect(validateKey(client, serviceOwnedKey(ARN), { expectedAccountId: 'acme' })).rejects.toThrow(
      /12-digit/,
    )
  })

  it('access denied → KeyAccessDeniedError for kms:DescribeKey', async () => {
    const { KMSServiceException } = await import('@aws-sdk/client-kms')
    kms.on(DescribeKeyCommand).rejects(
      new KMSServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: {},
        message: 'no',
      }),
    )
    const err = await validateKey(client, serviceOwnedKey(ARN)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyAccessDeniedError)
    expect(err).toMatchObject({ operation: 'DescribeKey', keyId: ARN })
  })
})
