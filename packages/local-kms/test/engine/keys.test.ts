import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalKmsEngine } from '../../src/engine/index.js'
import { A, b64, rejects, type World, world } from './helpers.js'

let w: World
beforeAll(async () => {
  w = await world()
})
afterAll(() => w.engine.close())

describe('CreateKey / DescribeKey / ListKeys', () => {
  it('returns the full KeyMetadata shape', async () => {
    const before = Date.now() / 1000
    const out = await w.call(w.root, 'CreateKey', {
      Description: 'orders',
      Tags: [{ TagKey: 'team', TagValue: 'pay' }],
    })
    const md = out.KeyMetadata
    expect(md).toMatchObject({
      AWSAccountId: A,
      Enabled: true,
      KeyState: 'Enabled',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      KeyManager: 'CUSTOMER',
      Origin: 'AWS_KMS',
      MultiRegion: false,
      Description: 'orders',
    })
    expect(md.KeyId).toMatch(/^[0-9a-f-]{36}$/)
    expect(md.Arn).toBe(`arn:aws:kms:us-east-1:${A}:key/${md.KeyId}`)
    expect(md.CreationDate).toBeGreaterThanOrEqual(Math.floor(before))
    expect((await w.call(w.root, 'DescribeKey', { KeyId: md.KeyId })).KeyMetadata).toEqual(md)
    expect((await w.call(w.root, 'ListResourceTags', { KeyId: md.KeyId })).Tags).toEqual([
      { TagKey: 'team', TagValue: 'pay' },
    ])
  })

  it('refuses unsupported origins and multi-Region keys, and malformed policies', async () => {
    await rejects(w.newKey({ Origin: 'EXTERNAL' }), 'UnsupportedOperationException')
    await rejects(w.newKey({ MultiRegion: true }), 'UnsupportedOperationException')
    await rejects(w.newKey({ Policy: '{not json' }), 'MalformedPolicyDocumentException')
    await rejects(
      w.newKey({ Policy: JSON.stringify({ Statement: [{ Effect: 'Maybe', Principal: '*', Action: '*' }] }) }),
      'MalformedPolicyDocumentException',
    )
    await rejects(
      w.newKey({
        Policy: JSON.stringify({
          Statement: [
            { Effect: 'Allow', Principal: '*', Action: '*', Condition: { NumericWeird: { a: 1 } } },
          ],
        }),
      }),
      'MalformedPolicyDocumentException',
    )
  })

  it('ListKeys lists the caller account only and paginates with Limit / Marker', async () => {
    const e = await LocalKmsEngine.open()
    const caller = e.resolveAccessKey('test')!.caller
    const arns: string[] = []
    for (let i = 0; i < 5; i++)
      arns.push(((await e.call('CreateKey', {}, caller)).KeyMetadata as { Arn: string }).Arn)
    const seen: string[] = []
    let Marker: string | undefined
    do {
      const page = await e.call('ListKeys', { Limit: 2, ...(Marker ? { Marker } : {}) }, caller)
      seen.push(...(page.Keys as { KeyArn: string }[]).map((k) => k.KeyArn))
      Marker = page.Truncated ? (page.NextMarker as string) : undefined
    } while (Marker)
    expect(seen.sort()).toEqual(arns.sort())
    await rejects(e.call('ListKeys', { Marker: 'garbage!' }, caller), 'InvalidMarkerException')
    await e.close()
    const inB = await w.call(w.broot, 'ListKeys')
    expect(inB.Keys.every((k: { KeyArn: string }) => k.KeyArn.includes(':444455556666:'))).toBe(true)
  })
})

describe('Enable / Disable / deletion', () => {
  it('ScheduleKeyDeletion: window 7-30 (default 30), DeletionDate, twice → KMSInvalidStateException', async () => {
    const arn = await w.newKey()
    await rejects(
      w.call(w.root, 'ScheduleKeyDeletion', { KeyId: arn, PendingWindowInDays: 6 }),
      'ValidationException',
    )
    await rejects(
      w.call(w.root, 'ScheduleKeyDeletion', { KeyId: arn, PendingWindowInDays: 31 }),
      'ValidationException',
    )
    const out = await w.call(w.root, 'ScheduleKeyDeletion', { KeyId: arn })
    expect(out).toMatchObject({ KeyId: arn, KeyState: 'PendingDeletion', PendingWindowInDays: 30 })
    expect(out.DeletionDate - Date.now() / 1000).toBeGreaterThan(29.9 * 86400)
    const md = (await w.call(w.root, 'DescribeKey', { KeyId: arn })).KeyMetadata
    expect(md).toMatchObject({
      KeyState: 'PendingDeletion',
      Enabled: false,
      DeletionDate: out.DeletionDate,
      PendingDeletionWindowInDays: 30,
    })
    await rejects(w.call(w.root, 'ScheduleKeyDeletion', { KeyId: arn }), 'KMSInvalidStateException')
    await rejects(
      w.call(w.root, 'CancelKeyDeletion', { KeyId: await w.newKey() }),
      'KMSInvalidStateException',
    )
    expect(await w.call(w.root, 'CancelKeyDeletion', { KeyId: arn })).toEqual({ KeyId: arn })
    const after = (await w.call(w.root, 'DescribeKey', { KeyId: arn })).KeyMetadata
    expect(after.KeyState).toBe('Disabled')
    expect(after.DeletionDate).toBeUndefined()
  })

  it('once the deletion date passes, the key, its aliases and grants are gone (NotFoundException)', async () => {
    let now = Date.now()
    const e = await LocalKmsEngine.open({ now: () => now })
    const caller = e.resolveAccessKey('test')!.caller
    const arn = ((await e.call('CreateKey', {}, caller)).KeyMetadata as { Arn: string }).Arn
    await e.call('CreateAlias', { AliasName: 'alias/doomed', TargetKeyId: arn }, caller)
    const { CiphertextBlob } = await e.call('Encrypt', { KeyId: arn, Plaintext: b64('x') }, caller)
    await e.call('ScheduleKeyDeletion', { KeyId: arn, PendingWindowInDays: 7 }, caller)
    now += 6 * 86_400_000
    await rejects(e.call('Decrypt', { CiphertextBlob }, caller), 'KMSInvalidStateException')
    now += 2 * 86_400_000
    await rejects(e.call('Decrypt', { CiphertextBlob }, caller), 'NotFoundException')
    await rejects(e.call('DescribeKey', { KeyId: arn }, caller), 'NotFoundException')
    expect((await e.call('ListAliases', {}, caller)).Aliases).toEqual([])
    expect((await e.call('ListKeys', {}, caller)).Keys).toEqual([])
    await e.close()
  })

  it('UpdateKeyDescription, GetKeyPolicy / PutKeyPolicy / ListKeyPolicies', async () => {
    const arn = await w.newKey()
    await w.call(w.root, 'UpdateKeyDescription', { KeyId: arn, Description: 'new' })
    expect((await w.call(w.root, 'DescribeKey', { KeyId: arn })).KeyMetadata.Description).toBe('new')
    const { Policy, PolicyName } = await w.call(w.root, 'GetKeyPolicy', { KeyId: arn })
    expect(PolicyName).toBe('default')
    expect(JSON.parse(Policy).Statement[0].Principal.AWS).toBe(`arn:aws:iam::${A}:root`)
    await rejects(w.call(w.root, 'GetKeyPolicy', { KeyId: arn, PolicyName: 'other' }), 'NotFoundException')
    await rejects(
      w.call(w.root, 'PutKeyPolicy', { KeyId: arn, Policy: '[]' }),
      'MalformedPolicyDocumentException',
    )
    expect((await w.call(w.root, 'ListKeyPolicies', { KeyId: arn })).PolicyNames).toEqual(['default'])
  })
})
