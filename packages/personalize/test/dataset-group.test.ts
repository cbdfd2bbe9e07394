import { Readable } from 'node:stream'
import { DisableKeyCommand, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  EncryptionContextMismatchError,
  InvalidKeyError,
  inspect,
  KeyAccessDeniedError,
  KeyDisabledError,
  KeyNotFoundError,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  DatasetGroupError,
  DatasetGroupKeyImmutableError,
  type ImportProgress,
  RoleKeyAccessDeniedError,
} from '../src/index.js'
import { type Fixture, fixture, keyPolicy, NO_ACCESS_ROLE, NO_DECRYPT_ROLE, ROLE, text } from './fixture.js'

const INTERACTIONS = 'USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1700000000\nu2,i7,1700000042\n'

let f: Fixture
beforeEach(async () => {
  f = await fixture()
})
afterEach(async () => {
  await f.close()
})

describe('dataset group with a customer managed key and a role the key policy allows', () => {
  it('imports and reads back; the data key is wrapped by the CMK, under the group context, as the role', async () => {
    const group = await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    expect(group.describe()).toMatchObject({
      kmsKeyArn: f.cmk,
      keyOwnership: 'customer-managed',
      roleArn: ROLE,
      status: 'ACTIVE',
      datasetGroupArn: `arn:aws:personalize:us-east-1:111122223333:dataset-group/movies`,
    })
    const result = await group.importDataset('Interactions', Readable.from([INTERACTIONS]))
    expect(result).toMatchObject({ bytes: INTERACTIONS.length, lines: 3, kmsKeyArn: f.cmk })
    expect(await text(group.readDataset('Interactions'))).toBe(INTERACTIONS)

    const stored = f.store.get(result.objectKey)!
    expect(stored.includes(Buffer.from('u2,i7'))).toBe(false)
    const info = inspect(stored)
    expect(info.encryptedDataKeys.map((k) => k.keyId)).toEqual([f.cmk])
    expect(info.context).toEqual({ datasetGroup: group.datasetGroupArn, dataset: 'Interactions' })

    // Every use of the CMK was made as the role (creation check included).
    const uses = f.kms.engine.auditLog().filter((e) => e.resources.some((r) => r.ARN === f.cmk))
    const crypto = uses.filter((e) => ['GenerateDataKey', 'Decrypt', 'DescribeKey'].includes(e.eventName))
    expect(crypto.length).toBeGreaterThanOrEqual(5)
    expect(new Set(crypto.map((e) => e.userIdentity.arn))).toEqual(new Set([ROLE]))
  })

  it('accepts an alias ARN and fixes the group to the key it names at creation', async () => {
    const { CreateAliasCommand } = await import('@aws-sdk/client-kms')
    await f.admin.send(new CreateAliasCommand({ AliasName: 'alias/personalize', TargetKeyId: f.cmk }))
    const group = await f.personalize.createDatasetGroup({
      name: 'aliased',
      kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:alias/personalize',
      roleArn: ROLE,
    })
    expect(group.kmsKeyArn).toBe(f.cmk)
  })
})

describe('creation refuses keys the role cannot use, before any data is touched', () => {
  it('role not in the key policy → RoleKeyAccessDeniedError naming role, key and permission', async () => {
    const err = await f.personalize
      .createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: NO_ACCESS_ROLE })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RoleKeyAccessDeniedError)
    expect(err).toBeInstanceOf(KeyAccessDeniedError)
    const denied = err as RoleKeyAccessDeniedError
    expect(denied).toMatchObject({
      code: 'ERR_KEY_ACCESS_DENIED',
      roleArn: NO_ACCESS_ROLE,
      keyId: f.cmk,
      operation: 'DescribeKey',
    })
    expect(denied.message).toContain(NO_ACCESS_ROLE)
    expect(denied.message).toContain(f.cmk)
    expect(denied.message).toContain('kms:Decrypt')
    expect(denied.remedy).toContain(`for principal ${NO_ACCESS_ROLE}`)
    expect(denied.cause).toBeInstanceOf(KeyAccessDeniedError)
    await expect(f.personalize.getDatasetGroup('movies')).rejects.toBeInstanceOf(DatasetGroupError)
    expect(f.store.size).toBe(0)
  })

  it('role allowed everything but Decrypt (the seed: the role needs decrypt) → denied for kms:Decrypt', async () => {
    const key = await f.createKey(keyPolicy([NO_DECRYPT_ROLE], ['kms:DescribeKey', 'kms:GenerateDataKey']))
    const err = await f.personalize
      .createDatasetGroup({ name: 'movies', kmsKeyArn: key, roleArn: NO_DECRYPT_ROLE })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RoleKeyAccessDeniedError)
    expect(err).toMatchObject({ operation: 'Decrypt', roleArn: NO_DECRYPT_ROLE, keyId: key })
    expect(await f.personalize.listDatasetGroups()).toEqual([])
  })

  it('asymmetric key → InvalidKeyError KEY_SPEC', async () => {
    const key = await f.createKey(keyPolicy([ROLE]), { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' })
    const err = await f.personalize
      .createDatasetGroup({ name: 'g', kmsKeyArn: key, roleArn: ROLE })
      .catch((e) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect(err).toMatchObject({ reason: 'KEY_SPEC', keyId: key })
  })

  it('disabled key → KeyDisabledError', async () => {
    await f.admin.send(new DisableKeyCommand({ KeyId: f.cmk }))
    const err = await f.personalize
      .createDatasetGroup({ name: 'g', kmsKeyArn: f.cmk, roleArn: ROLE })
      .catch((e) => e)
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect(err).toMatchObject({ keyState: 'Disabled' })
  })

  it('unknown key → KeyNotFoundError', async () => {
    const missing = f.cmk.replace(/key\/.*/, 'key/00000000-0000-4000-8000-000000000000')
    const err = await f.personalize
      .createDatasetGroup({ name: 'g', kmsKeyArn: missing, roleArn: ROLE })
      .catch((e) => e)
    expect(err).toBeInstanceOf(KeyNotFoundError)
  })

  it('key without role, role without key, AWS managed key, other Region, other account → ConfigurationError', async () => {
    const cases = [
      { name: 'a', kmsKeyArn: f.cmk },
      { name: 'b', roleArn: ROLE },
      { name: 'c', kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:alias/aws/personalize', roleArn: ROLE },
      { name: 'd', kmsKeyArn: f.cmk.replace('us-east-1', 'eu-west-1'), roleArn: ROLE },
      { name: 'e', kmsKeyArn: f.cmk, roleArn: 'arn:aws:iam::999988887777:role/PersonalizeRole' },
      { name: 'f', kmsKeyArn: f.cmk, roleArn: 'PersonalizeRole' },
      { name: 'bad name!', kmsKeyArn: f.cmk, roleArn: ROLE },
    ]
    for (const input of cases) {
      await expect(f.personalize.createDatasetGroup(input), JSON.stringify(input)).rejects.toBeInstanceOf(
        ConfigurationError,
      )
    }
    expect(f.kms.engine.auditLog().filter((e) => e.eventName !== 'CreateKey')).toEqual([])
  })
})

describe('service-owned key when no key is given', () => {
  it('encrypts under the service key, made by the service itself', async () => {
    const group = await f.personalize.createDatasetGroup({ name: 'books' })
    expect(group.describe()).toMatchObject({
      keyOwnership: 'service-owned',
      kmsKeyArn: f.serviceKeyArn,
      roleArn: undefined,
    })
    const { objectKey } = await group.importDataset('Items', 'ITEM_ID,GENRE\ni1,drama\n')
    expect(inspect(f.store.get(objectKey)!).encryptedDataKeys.map((k) => k.keyId)).toEqual([f.serviceKeyArn])
    expect(await text(group.readDataset('Items'))).toBe('ITEM_ID,GENRE\ni1,drama\n')
    // Two data keys, both from the service: the group's sealed record, then the import.
    const uses = f.kms.engine.auditLog().filter((e) => e.eventName === 'GenerateDataKey')
    expect(uses.map((e) => [e.userIdentity.arn, e.requestParameters.encryptionContext])).toEqual([
      [
        'arn:aws:iam::444455556666:role/personalize-service',
        { datasetGroup: group.datasetGroupArn, purpose: 'dataset-group-record' },
      ],
      [
        'arn:aws:iam::444455556666:role/personalize-service',
        { datasetGroup: group.datasetGroupArn, dataset: 'Items' },
      ],
    ])
  })
})

describe('service-owned key problems', () => {
  it('a disabled service key fails creation with KeyDisabledError, and is checked again next time', async () => {
    const { DisableKeyCommand: Disable, EnableKeyCommand } = await import('@aws-sdk/client-kms')
    const service = f.kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret' })
    await service.send(new Disable({ KeyId: f.serviceKeyArn }))
    await expect(f.personalize.createDatasetGroup({ name: 'books' })).rejects.toBeInstanceOf(KeyDisabledError)
    await service.send(new EnableKeyCommand({ KeyId: f.serviceKeyArn }))
    const group = await f.personalize.createDatasetGroup({ name: 'books' })
    expect(group.kmsKeyArn).toBe(f.serviceKeyArn)
  })
})

describe('isolation and integrity', () => {
  it('data of group A cannot be read as group B (same service key: the context decides)', async () => {
    const a = await f.personalize.createDatasetGroup({ name: 'a' })
    const b = await f.personalize.createDatasetGroup({ name: 'b' })
    const fromA = await a.importDataset('Users', 'USER_ID\nalice\n')
    const fromB = await b.importDataset('Users', 'USER_ID\nbob\n')
    f.store.set(fromB.objectKey, f.store.get(fromA.objectKey)!)
    const err = await text(b.readDataset('Users')).catch((e) => e)
    expect(err).toBeInstanceOf(EncryptionContextMismatchError)
    expect(err).toMatchObject({ key: 'datasetGroup' })
  })

  it('data of one dataset cannot be read as another dataset of the same group', async () => {
    const g = await f.personalize.createDatasetGroup({ name: 'g', kmsKeyArn: f.cmk, roleArn: ROLE })
    const users = await g.importDataset('Users', 'USER_ID\nalice\n')
    const items = await g.importDataset('Items', 'ITEM_ID\ni1\n')
    f.store.set(items.objectKey, f.store.get(users.objectKey)!)
    await expect(text(g.readDataset('Items'))).rejects.toMatchObject({
      code: 'ERR_CONTEXT_MISMATCH',
      key: 'dataset',
    })
  })

  it('a modified byte in a stored import → TamperedCiphertextError', async () => {
    const g = await f.personalize.createDatasetGroup({ name: 'g', kmsKeyArn: f.cmk, roleArn: ROLE })
    const { objectKey } = await g.importDataset('Interactions', INTERACTIONS)
    const stored = f.store.get(objectKey)!
    stored[stored.length - 20]! ^= 0x01
    await expect(text(g.readDataset('Interactions'))).rejects.toBeInstanceOf(TamperedCiphertextError)
  })
})

describe("a group's key and life", () => {
  it('the key cannot be changed; the same key again → ALREADY_EXISTS', async () => {
    await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    const other = await f.createKey(keyPolicy([ROLE]))
    const err = await f.personalize
      .createDatasetGroup({ name: 'movies', kmsKeyArn: other, roleArn: ROLE })
      .catch((e) => e)
    expect(err).toBeInstanceOf(DatasetGroupKeyImmutableError)
    expect(err).toMatchObject({
      code: 'ERR_DATASET_GROUP_KEY_IMMUTABLE',
      currentKeyArn: f.cmk,
      requestedKeyArn: other,
    })
    await expect(f.personalize.createDatasetGroup({ name: 'movies' })).rejects.toBeInstanceOf(
      DatasetGroupKeyImmutableError,
    )
    await expect(
      f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE }),
    ).rejects.toMatchObject({ code: 'ERR_DATASET_GROUP', reason: 'ALREADY_EXISTS' })
    const g = await f.personalize.getDatasetGroup('movies')
    expect(() => {
      ;(g as { kmsKeyArn: string }).kmsKeyArn = other
    }).toThrow(TypeError)
    expect(g.kmsKeyArn).toBe(f.cmk)
    const { objectKey } = await g.importDataset('Items', 'ITEM_ID\ni1\n')
    expect(inspect(f.store.get(objectKey)!).encryptedDataKeys[0]!.keyId).toBe(f.cmk)
  })

  it('deleting the group deletes its data and forgets it; the name can be reused for an empty group', async () => {
    const g = await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    const keep = await f.personalize.createDatasetGroup({ name: 'keep' })
    await g.importDataset('Interactions', INTERACTIONS)
    await g.importDataset('Items', 'ITEM_ID\ni1\n')
    await keep.importDataset('Items', 'ITEM_ID\ni9\n')
    await text(g.readDataset('Items'))
    expect(f.store.size).toBe(3)
    await f.personalize.deleteDatasetGroup('movies')
    expect(f.store.size).toBe(1)
    expect(g.describe().status).toBe('DELETED')
    expect(g.stats().cache.entries).toBe(0)
    expect(() => g.readDataset('Items')).toThrow(DatasetGroupError)
    await expect(g.importDataset('Items', 'x\n')).rejects.toMatchObject({ reason: 'DELETED' })
    await expect(f.personalize.getDatasetGroup('movies')).rejects.toThrow(/does not exist/)
    const again = await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    expect(await text(again.readDataset('Interactions'))).toBe('')
    expect(await text(keep.readDataset('Items'))).toBe('ITEM_ID\ni9\n')
  })

  it('a deletion the store fails part-way can be retried: the group stays known until its data is gone', async () => {
    const g = await f.personalize.createDatasetGroup({ name: 'movies' })
    await g.importDataset('Items', 'ITEM_ID\ni1\n')
    const remove = f.store.delete.bind(f.store)
    f.store.delete = async () => {
      throw new Error('store unavailable')
    }
    await expect(f.personalize.deleteDatasetGroup('movies')).rejects.toThrow('store unavailable')
    expect(f.store.size).toBe(1)
    expect(await f.personalize.getDatasetGroup('movies')).toBe(g)
    expect(g.describe().status).toBe('DELETED')
    f.store.delete = remove
    await f.personalize.deleteDatasetGroup('movies')
    expect(f.store.size).toBe(0)
    await expect(f.personalize.getDatasetGroup('movies')).rejects.toThrow(/does not exist/)
  })

  it('access revoked after creation → the next import fails naming the role; stored data stays', async () => {
    const g = await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    await g.importDataset('Interactions', INTERACTIONS)
    await f.admin.send(
      new PutKeyPolicyCommand({ KeyId: f.cmk, PolicyName: 'default', Policy: keyPolicy([]) }),
    )
    const err = await g.importDataset('Interactions', 'USER_ID,ITEM_ID,TIMESTAMP\n').catch((e) => e)
    expect(err).toBeInstanceOf(RoleKeyAccessDeniedError)
    expect(err).toMatchObject({
      roleArn: ROLE,
      operation: 'GenerateDataKey',
      datasetGroupArn: g.datasetGroupArn,
    })
    expect(f.store.size).toBe(1)
    g.stats() // still usable object
    await f.admin.send(
      new PutKeyPolicyCommand({ KeyId: f.cmk, PolicyName: 'default', Policy: keyPolicy([ROLE]) }),
    )
    expect(await text(g.readDataset('Interactions'))).toBe(INTERACTIONS)
  })

  it('key disabled after creation → KeyDisabledError on import', async () => {
    const g = await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    await f.admin.send(new DisableKeyCommand({ KeyId: f.cmk }))
    await expect(g.importDataset('Items', 'ITEM_ID\ni1\n')).rejects.toBeInstanceOf(KeyDisabledError)
    expect(f.store.size).toBe(0)
  })
})

describe('imports', () => {
  it('FULL replaces, INCREMENTAL appends; each import has its own data key', async () => {
    const g = await f.personalize.createDatasetGroup({ name: 'g', kmsKeyArn: f.cmk, roleArn: ROLE })
    await g.importDataset('Items', 'ITEM_ID\ni1\n')
    await g.importDataset('Items', 'i2\n', { mode: 'INCREMENTAL' })
    expect(await text(g.readDataset('Items'))).toBe('ITEM_ID\ni1\ni2\n')
    await g.importDataset('Items', 'ITEM_ID\ni3\n', { mode: 'FULL' })
    expect(await text(g.readDataset('Items'))).toBe('ITEM_ID\ni3\n')
    expect(f.store.size).toBe(1)
    expect(g.stats().kms.generateDataKey).toBe(3)
    await expect(g.importDataset('Items', 'x', { mode: 'MERGE' as 'FULL' })).rejects.toBeInstanceOf(
      ConfigurationError,
    )
    await expect(g.importDataset('Ratings' as 'Items', 'x')).rejects.toBeInstanceOf(ConfigurationError)
  })

  it('streams a large source in chunks with progress, one GenerateDataKey', async () => {
    const g = await f.personalize.createDatasetGroup({ name: 'g', kmsKeyArn: f.cmk, roleArn: ROLE })
    const rows = 60_000
    async function* csv() {
      yield 'USER_ID,ITEM_ID,TIMESTAMP\n'
      for (let i = 0; i < rows; i += 1000) {
        let chunk = ''
        for (let j = i; j < i + 1000; j++) chunk += `user-${j},item-${j % 97},${1700000000 + j}\n`
        yield chunk
      }
    }
    const progress: ImportProgress[] = []
    const result = await g.importDataset('Interactions', csv(), { onProgress: (p) => progress.push(p) })
    expect(result.lines).toBe(rows + 1)
    expect(progress.length).toBeGreaterThan(50)
    expect(progress.at(-1)).toMatchObject({ done: true, lines: rows + 1, bytes: result.bytes })
    expect(inspect(f.store.get(result.objectKey)!).framed).toBe(true)
    let lines = 0
    for await (const chunk of g.readDataset('Interactions')) lines += String(chunk).split('\n').length - 1
    expect(lines).toBe(rows + 1)
    expect(g.stats().kms.generateDataKey).toBe(1)
  })

  it('a stream of objects fails the import (inside it: nothing stored); a stream of strings in object mode is fine', async () => {
    const g = await f.personalize.createDatasetGroup({ name: 'g' })
    const err = await g.importDataset('Users', Readable.from([{ USER_ID: 'dave' }])).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigurationError)
    expect(err).toMatchObject({ code: 'ERR_CONFIGURATION' })
    expect((err as Error).message).toMatch(/strings or bytes/)
    expect((err as ConfigurationError).remedy).toMatch(/createReadStream/)
    expect(f.store.size).toBe(0)
    await g.importDataset('Users', Readable.from(['USER_ID\n', 'erin\n']))
    expect(await text(g.readDataset('Users'))).toBe('USER_ID\nerin\n')
  })

  it('a source that fails midway or an aborted import stores nothing and keeps earlier data', async () => {
    const g = await f.personalize.createDatasetGroup({ name: 'g' })
    await g.importDataset('Users', 'USER_ID\nalice\n')
    async function* broken() {
      yield 'USER_ID\nbob\n'
      throw new Error('upload interrupted')
    }
    await expect(g.importDataset('Users', broken())).rejects.toThrow('upload interrupted')
    const controller = new AbortController()
    const aborted = g.importDataset('Users', Readable.from(['USER_ID\n', 'carol\n']), {
      mode: 'INCREMENTAL',
      onProgress: () => controller.abort(),
      signal: controller.signal,
    })
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' })
    expect(f.store.size).toBe(1)
    expect(await text(g.readDataset('Users'))).toBe('USER_ID\nalice\n')
  })
})
