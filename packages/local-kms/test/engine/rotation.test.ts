import { describe, expect, it } from 'vitest'
import { LocalKmsEngine } from '../../src/engine/index.js'
import { b64, rejects, unb64 } from './helpers.js'

const DAY = 86_400_000

async function setup() {
  let now = Date.parse('2026-01-01T00:00:00Z')
  const engine = await LocalKmsEngine.open({ now: () => now })
  const root = engine.resolveAccessKey('test')!.caller
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON in tests
  const call = (op: string, input: Record<string, unknown> = {}): Promise<any> => engine.call(op, input, root)
  const arn = (await call('CreateKey')).KeyMetadata.Arn as string
  return { engine, call, arn, advance: (ms: number) => (now += ms) }
}

describe('key rotation', () => {
  it('RotateKeyOnDemand: new material encrypts, old ciphertexts still decrypt', async () => {
    const { engine, call, arn } = await setup()
    const { CiphertextBlob: before } = await call('Encrypt', { KeyId: arn, Plaintext: b64('v1') })
    expect(await call('RotateKeyOnDemand', { KeyId: arn })).toEqual({ KeyId: arn })
    const { CiphertextBlob: after } = await call('Encrypt', { KeyId: arn, Plaintext: b64('v2') })
    // The material version is in the header: the two blobs differ in it.
    const version = (blob: string) => {
      const b = Buffer.from(blob, 'base64')
      return b.readUInt32BE(7 + b.readUInt16BE(5))
    }
    expect(version(before)).toBe(1)
    expect(version(after)).toBe(2)
    expect(unb64((await call('Decrypt', { CiphertextBlob: before })).Plaintext)).toBe('v1')
    expect(unb64((await call('Decrypt', { CiphertextBlob: after })).Plaintext)).toBe('v2')
    const { Rotations } = await call('ListKeyRotations', { KeyId: arn })
    expect(Rotations).toMatchObject([{ KeyId: arn, RotationType: 'ON_DEMAND' }])
    await engine.close()
  })

  it('Enable / Disable / GetKeyRotationStatus; automatic rotation when the period passes', async () => {
    const { engine, call, arn, advance } = await setup()
    expect(await call('GetKeyRotationStatus', { KeyId: arn })).toEqual({
      KeyRotationEnabled: false,
      KeyId: arn,
    })
    await rejects(call('EnableKeyRotation', { KeyId: arn, RotationPeriodInDays: 89 }), 'ValidationException')
    await call('EnableKeyRotation', { KeyId: arn, RotationPeriodInDays: 90 })
    const status = await call('GetKeyRotationStatus', { KeyId: arn })
    expect(status).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 })
    expect(status.NextRotationDate).toBe(Date.parse('2026-01-01T00:00:00Z') / 1000 + 90 * 86400)
    const { CiphertextBlob: old } = await call('Encrypt', { KeyId: arn, Plaintext: b64('old') })
    advance(91 * DAY)
    await call('Encrypt', { KeyId: arn, Plaintext: b64('new') })
    expect((await call('ListKeyRotations', { KeyId: arn })).Rotations).toMatchObject([
      { RotationType: 'AUTOMATIC' },
    ])
    expect(unb64((await call('Decrypt', { CiphertextBlob: old })).Plaintext)).toBe('old')
    await call('DisableKeyRotation', { KeyId: arn })
    expect((await call('GetKeyRotationStatus', { KeyId: arn })).KeyRotationEnabled).toBe(false)
    await engine.close()
  })

  it('rotation refuses asymmetric keys, disabled keys and keys pending deletion', async () => {
    const { engine, call, arn } = await setup()
    const rsa = (await call('CreateKey', { KeySpec: 'RSA_2048' })).KeyMetadata.Arn
    await rejects(call('EnableKeyRotation', { KeyId: rsa }), 'UnsupportedOperationException')
    await rejects(call('RotateKeyOnDemand', { KeyId: rsa }), 'UnsupportedOperationException')
    await call('DisableKey', { KeyId: arn })
    await rejects(call('RotateKeyOnDemand', { KeyId: arn }), 'DisabledException')
    await rejects(call('EnableKeyRotation', { KeyId: arn }), 'DisabledException')
    await call('ScheduleKeyDeletion', { KeyId: arn })
    await rejects(call('GetKeyRotationStatus', { KeyId: arn }), 'KMSInvalidStateException')
    await engine.close()
  })
})

describe('aliases and tags', () => {
  it('CreateAlias / UpdateAlias / DeleteAlias / ListAliases', async () => {
    const { engine, call, arn } = await setup()
    const other = (await call('CreateKey')).KeyMetadata.Arn as string
    await call('CreateAlias', { AliasName: 'alias/app', TargetKeyId: arn })
    await rejects(call('CreateAlias', { AliasName: 'alias/app', TargetKeyId: arn }), 'AlreadyExistsException')
    await rejects(
      call('CreateAlias', { AliasName: 'alias/aws/s3', TargetKeyId: arn }),
      'InvalidAliasNameException',
    )
    await rejects(call('CreateAlias', { AliasName: 'app', TargetKeyId: arn }), 'InvalidAliasNameException')
    await rejects(
      call('CreateAlias', { AliasName: 'alias/x', TargetKeyId: 'alias/app' }),
      'ValidationException',
    )
    await rejects(call('CreateAlias', { AliasName: 'alias/x', TargetKeyId: 'nope' }), 'NotFoundException')
    const list = await call('ListAliases')
    expect(list.Aliases).toMatchObject([
      {
        AliasName: 'alias/app',
        AliasArn: 'arn:aws:kms:us-east-1:111122223333:alias/app',
        TargetKeyId: arn.split('/')[1],
      },
    ])
    await call('UpdateAlias', { AliasName: 'alias/app', TargetKeyId: other })
    expect((await call('DescribeKey', { KeyId: 'alias/app' })).KeyMetadata.Arn).toBe(other)
    expect((await call('ListAliases', { KeyId: arn })).Aliases).toEqual([])
    expect((await call('ListAliases', { KeyId: other })).Aliases).toHaveLength(1)
    await rejects(call('UpdateAlias', { AliasName: 'alias/none', TargetKeyId: other }), 'NotFoundException')
    await call('DeleteAlias', { AliasName: 'alias/app' })
    await rejects(call('DescribeKey', { KeyId: 'alias/app' }), 'NotFoundException')
    await rejects(call('DeleteAlias', { AliasName: 'alias/app' }), 'NotFoundException')
    await engine.close()
  })

  it('TagResource / UntagResource / ListResourceTags', async () => {
    const { engine, call, arn } = await setup()
    await call('TagResource', {
      KeyId: arn,
      Tags: [
        { TagKey: 'a', TagValue: '1' },
        { TagKey: 'b', TagValue: '2' },
      ],
    })
    await call('TagResource', { KeyId: arn, Tags: [{ TagKey: 'a', TagValue: '3' }] })
    expect((await call('ListResourceTags', { KeyId: arn })).Tags).toEqual([
      { TagKey: 'a', TagValue: '3' },
      { TagKey: 'b', TagValue: '2' },
    ])
    await call('UntagResource', { KeyId: arn, TagKeys: ['a'] })
    expect((await call('ListResourceTags', { KeyId: arn })).Tags).toEqual([{ TagKey: 'b', TagValue: '2' }])
    await rejects(
      call('TagResource', { KeyId: arn, Tags: [{ TagKey: 'aws:x', TagValue: '1' }] }),
      'TagException',
    )
    await rejects(call('TagResource', { KeyId: arn, Tags: [] }), 'ValidationException')
    await engine.close()
  })

  it('aws:ResourceTag conditions see the key tags (ABAC)', async () => {
    const { engine, call } = await setup()
    const policy = JSON.stringify({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:root' },
          Action: 'kms:*',
          Resource: '*',
        },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Encrypt',
          Resource: '*',
          Condition: { StringEquals: { 'aws:ResourceTag/frozen': 'yes' } },
        },
      ],
    })
    const arn = (await call('CreateKey', { Policy: policy })).KeyMetadata.Arn
    await call('Encrypt', { KeyId: arn, Plaintext: b64('x') })
    await call('TagResource', { KeyId: arn, Tags: [{ TagKey: 'frozen', TagValue: 'yes' }] })
    await rejects(call('Encrypt', { KeyId: arn, Plaintext: b64('x') }), 'AccessDeniedException')
    await engine.close()
  })
})
