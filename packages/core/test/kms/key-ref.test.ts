import {
  ConfigurationError,
  customerManagedKey,
  parseKmsArn,
  serviceOwnedKey,
  tryParseKmsArn,
} from '@kms-envelope/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const MRK = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef'
const ALIAS = 'arn:aws-us-gov:kms:us-gov-west-1:444455556666:alias/app/data'

describe('KMS ARNs and key references', () => {
  it('parses key, multi-Region key and alias ARNs', () => {
    expect(parseKmsArn(KEY)).toEqual({
      arn: KEY,
      partition: 'aws',
      region: 'us-east-1',
      accountId: '111122223333',
      resourceType: 'key',
      resourceId: '1234abcd-12ab-34cd-56ef-1234567890ab',
      multiRegion: false,
    })
    expect(parseKmsArn(MRK)).toMatchObject({
      region: 'eu-west-1',
      multiRegion: true,
      resourceId: 'mrk-0123456789abcdef0123456789abcdef',
    })
    expect(parseKmsArn(ALIAS)).toMatchObject({
      partition: 'aws-us-gov',
      region: 'us-gov-west-1',
      accountId: '444455556666',
      resourceType: 'alias',
      resourceId: 'alias/app/data',
    })
  })

  it.each([
    'alias/app',
    '1234abcd-12ab-34cd-56ef-1234567890ab',
    'arn:aws:kms:us-east-1:11112222333:key/1234abcd-12ab-34cd-56ef-1234567890ab', // 11 digits
    'arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', // not kms
    'arn:aws:kms:us-east-1:111122223333:key/not-a-key-id',
    'arn:aws:kms:us-east-1:111122223333:key/mrk-123',
    'arn:aws:kms:us-east-1:111122223333:grant/abc',
    `${KEY} `,
    '',
  ])('refuses %j', (bad) => {
    expect(tryParseKmsArn(bad)).toBeUndefined()
    expect(() => parseKmsArn(bad)).toThrow(ConfigurationError)
    expect(() => serviceOwnedKey(bad)).toThrow(ConfigurationError)
  })

  it('parses ARNs with the Region names of every partition (China, GovCloud, ISO, European Sovereign Cloud)', () => {
    const id = '1234abcd-12ab-34cd-56ef-1234567890ab'
    for (const [partition, region] of [
      ['aws-cn', 'cn-north-1'],
      ['aws-us-gov', 'us-gov-west-1'],
      ['aws-iso', 'us-iso-east-1'],
      ['aws-iso-b', 'us-isob-east-1'],
      ['aws-eusc', 'eusc-de-east-1'],
      ['aws', 'ap-southeast-5'],
    ] as const) {
      expect(parseKmsArn(`arn:${partition}:kms:${region}:111122223333:key/${id}`)).toMatchObject({
        partition,
        region,
      })
    }
    for (const bad of ['e-west-1', 'europe-de-east-1', 'us-east', 'us-east-123']) {
      expect(tryParseKmsArn(`arn:aws:kms:${bad}:111122223333:key/${id}`), bad).toBeUndefined()
    }
  })

  it('service-owned vs customer managed', () => {
    expect(serviceOwnedKey(KEY)).toMatchObject({ kind: 'service-owned', accountId: '111122223333' })
    expect(customerManagedKey(MRK)).toMatchObject({ kind: 'customer-managed', region: 'eu-west-1' })
  })

  it('an AWS managed key alias is not a customer managed key', () => {
    const awsManaged = 'arn:aws:kms:us-east-1:111122223333:alias/aws/s3'
    expect(() => customerManagedKey(awsManaged)).toThrow(/AWS managed key/)
    expect(serviceOwnedKey(awsManaged).kind).toBe('service-owned')
  })

  it('property: every generated key ARN round-trips its parts', () => {
    const hex = (n: number) =>
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })
    fc.assert(
      fc.property(
        fc.constantFrom('aws', 'aws-cn', 'aws-us-gov', 'aws-iso-b'),
        fc.constantFrom('us-east-1', 'eu-central-2', 'ap-southeast-4', 'cn-north-1'),
        fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 12, maxLength: 12 }),
        fc.oneof(
          fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((p) => p.join('-')),
          hex(32).map((h) => `mrk-${h}`),
        ),
        (partition, region, account, id) => {
          const arn = `arn:${partition}:kms:${region}:${account}:key/${id}`
          expect(parseKmsArn(arn)).toEqual({
            arn,
            partition,
            region,
            accountId: account,
            resourceType: 'key',
            resourceId: id,
            multiRegion: id.startsWith('mrk-'),
          })
        },
      ),
    )
  })
})
