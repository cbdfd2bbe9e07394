// Dataset groups survive a restart through the registry (sealed records), and an edited registry cannot move a
// group to another key or role: against the local KMS.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  EncryptionContextMismatchError,
  Envelope,
  inspect,
  KmsKeyring,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  DatasetGroupError,
  DatasetGroupKeyImmutableError,
  DatasetGroupRecordError,
  FileDatasetGroupRegistry,
  MemoryDatasetGroupRegistry,
  type Personalize,
} from '../src/index.js'
import { type Fixture, fixture, keyPolicy, NO_DECRYPT_ROLE, ROLE, text } from './fixture.js'

const ROWS = 'USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1700000000\n'
const MORE = 'u2,i7,1700000042\n'

let dir: string
let f: Fixture
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'personalize-registry-'))
  f = await fixture({ registry: new FileDatasetGroupRegistry({ directory: dir }) })
})
afterEach(async () => {
  await f.close()
  await rm(dir, { recursive: true, force: true })
})

/** KMS calls made as `principal` since audit entry `from`. */
function callsAs(principal: string, from = 0): string[] {
  return f.kms.engine
    .auditLog()
    .slice(from)
    .filter((e) => e.userIdentity.arn === principal)
    .map((e) => e.eventName)
}

describe('restart: a new Personalize over the same registry and store', () => {
  it('reopens a customer-key group (same key, role, creation time), reads old data and imports more under the key', async () => {
    const created = await f.personalize.createDatasetGroup({
      name: 'movies',
      kmsKeyArn: f.cmk,
      roleArn: ROLE,
    })
    await created.importDataset('Interactions', ROWS)

    const after = f.restart()
    const movies = await after.getDatasetGroup('movies')
    expect(movies).not.toBe(created)
    expect(movies.describe()).toEqual(created.describe())
    expect(movies.describe()).toMatchObject({
      kmsKeyArn: f.cmk,
      roleArn: ROLE,
      keyOwnership: 'customer-managed',
    })
    expect(await text(movies.readDataset('Interactions'))).toBe(ROWS)

    const mark = f.kms.engine.auditLog().length
    const more = await movies.importDataset('Interactions', MORE, { mode: 'INCREMENTAL' })
    expect(inspect(f.store.get(more.objectKey)!).encryptedDataKeys.map((k) => k.keyId)).toEqual([f.cmk])
    expect(callsAs(ROLE, mark)).toEqual(['GenerateDataKey'])
    // Continues after the imports made before the restart (does not overwrite them).
    expect(await text(movies.readDataset('Interactions'))).toBe(ROWS + MORE)
    expect(f.store.size).toBe(2)
    await movies.importDataset('Interactions', 'USER_ID,ITEM_ID,TIMESTAMP\nu3,i3,1\n')
    expect(await text(movies.readDataset('Interactions'))).toBe('USER_ID,ITEM_ID,TIMESTAMP\nu3,i3,1\n')
    expect(f.store.size).toBe(1)
    // The pre-restart object sees the same data (one group, one prefix).
    expect(await text(created.readDataset('Interactions'))).toBe('USER_ID,ITEM_ID,TIMESTAMP\nu3,i3,1\n')
  })

  it('reopens a service-key group; lists every group; the key still cannot be changed', async () => {
    await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    const books = await f.personalize.createDatasetGroup({ name: 'books' })
    await books.importDataset('Items', 'ITEM_ID\nb1\n')

    const after = f.restart()
    const listed = await after.listDatasetGroups()
    expect(listed.map((g) => [g.name, g.keyOwnership, g.kmsKeyArn])).toEqual([
      ['books', 'service-owned', f.serviceKeyArn],
      ['movies', 'customer-managed', f.cmk],
    ])
    const reopened = await after.getDatasetGroup('books')
    expect(listed[0]).toBe(reopened)
    expect(await text(reopened.readDataset('Items'))).toBe('ITEM_ID\nb1\n')

    const other = await f.createKey(keyPolicy([ROLE]))
    await expect(
      after.createDatasetGroup({ name: 'movies', kmsKeyArn: other, roleArn: ROLE }),
    ).rejects.toMatchObject({ code: 'ERR_DATASET_GROUP_KEY_IMMUTABLE', currentKeyArn: f.cmk })
    await expect(after.createDatasetGroup({ name: 'movies' })).rejects.toBeInstanceOf(
      DatasetGroupKeyImmutableError,
    )
    await expect(after.createDatasetGroup({ name: 'books' })).rejects.toMatchObject({
      code: 'ERR_DATASET_GROUP',
      reason: 'ALREADY_EXISTS',
    })
    await expect(
      after.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE }),
    ).rejects.toMatchObject({ reason: 'ALREADY_EXISTS' })
  })

  it('reopening costs what the README says: one DescribeKey of the service key per object, one Decrypt per record, then none', async () => {
    await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    await f.personalize.createDatasetGroup({ name: 'books' })
    const service = `arn:aws:iam::444455556666:role/personalize-service`
    const mark = f.kms.engine.auditLog().length
    const after = f.restart()
    await after.getDatasetGroup('movies')
    expect(callsAs(service, mark)).toEqual(['DescribeKey', 'Decrypt'])
    await after.getDatasetGroup('movies')
    await after.listDatasetGroups() // movies again (no call) and books (its record: one Decrypt)
    await after.getDatasetGroup('books')
    expect(callsAs(service, mark)).toEqual(['DescribeKey', 'Decrypt', 'Decrypt'])
    // Opening a record makes no call as the role.
    expect(callsAs(ROLE, mark)).toEqual([])
  })

  it('two Personalize objects importing into one group at once do not overwrite each other', async () => {
    const created = await f.personalize.createDatasetGroup({ name: 'movies' })
    await created.importDataset('Users', 'USER_ID\n')
    const [a, b] = await Promise.all([
      f.restart().getDatasetGroup('movies'),
      f.restart().getDatasetGroup('movies'),
    ])
    // Both continue after the existing import, so both pick the same sequence number.
    await Promise.all([
      a.importDataset('Users', 'alice\n', { mode: 'INCREMENTAL' }),
      b.importDataset('Users', 'bob\n', { mode: 'INCREMENTAL' }),
    ])
    expect(f.store.size).toBe(3)
    const rows = (await text(created.readDataset('Users'))).split('\n')
    expect(rows.slice(0, 1)).toEqual(['USER_ID'])
    expect(rows.slice(1, 3).sort()).toEqual(['alice', 'bob'])
  })

  it('a group deleted by one Personalize is gone for the other; the name can be reused', async () => {
    const before = await f.personalize.createDatasetGroup({ name: 'movies' })
    await before.importDataset('Users', 'USER_ID\nalice\n')
    const after = f.restart()
    await after.deleteDatasetGroup('movies')
    expect(f.store.size).toBe(0)
    expect(await readdir(dir)).toEqual([])
    await expect(f.personalize.getDatasetGroup('movies')).rejects.toMatchObject({ reason: 'NOT_FOUND' })
    const again = await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    expect((await after.getDatasetGroup('movies')).describe()).toEqual(again.describe())
  })

  it('without a registry option, groups are not shared (the default registry is per object)', async () => {
    const lone = await fixture()
    try {
      await lone.personalize.createDatasetGroup({ name: 'movies' })
      const other = new (lone.personalize.constructor as typeof Personalize)({
        accountId: lone.personalize.accountId,
        region: lone.personalize.region,
        serviceKms: lone.kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret' }),
        serviceKeyArn: lone.serviceKeyArn,
        roleClient: lone.roleClient,
        store: lone.store,
      })
      await expect(other.getDatasetGroup('movies')).rejects.toMatchObject({ reason: 'NOT_FOUND' })
    } finally {
      await lone.close()
    }
  })
})

describe('a tampered registry is refused, and never moves a group to another key or role', () => {
  const file = (name: string) => join(dir, `${Buffer.from(name).toString('hex')}.group`)

  it('a modified byte → DatasetGroupRecordError TAMPERED with a remedy; restoring the record fixes it', async () => {
    await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    const original = await readFile(file('movies'))
    const edited = Buffer.from(original)
    edited[edited.length - 5]! ^= 0x01
    await writeFile(file('movies'), edited)

    const after = f.restart()
    const mark = f.kms.engine.auditLog().length
    const err = await after.getDatasetGroup('movies').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DatasetGroupRecordError)
    expect(err).toMatchObject({
      code: 'ERR_DATASET_GROUP_RECORD',
      reason: 'TAMPERED',
      datasetGroupArn: 'arn:aws:personalize:us-east-1:111122223333:dataset-group/movies',
    })
    expect((err as DatasetGroupRecordError).remedy).toMatch(/Restore the record from a backup/)
    expect((err as DatasetGroupRecordError).cause).toBeInstanceOf(TamperedCiphertextError)
    expect(callsAs(ROLE, mark)).toEqual([]) // the role (and its key) was never used
    // Creation under the name reports the tampering too (not a plain ALREADY_EXISTS).
    await expect(after.createDatasetGroup({ name: 'movies' })).rejects.toBeInstanceOf(DatasetGroupRecordError)
    await expect(after.listDatasetGroups()).rejects.toBeInstanceOf(DatasetGroupRecordError)

    await writeFile(file('movies'), original)
    expect((await after.getDatasetGroup('movies')).kmsKeyArn).toBe(f.cmk)
  })

  it("another group's record swapped in → OTHER_GROUP before any KMS call", async () => {
    const otherKey = await f.createKey(keyPolicy([ROLE, NO_DECRYPT_ROLE]))
    await f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE })
    await f.personalize.createDatasetGroup({ name: 'attacker', kmsKeyArn: otherKey, roleArn: ROLE })
    await f.personalize.createDatasetGroup({ name: 'books' })
    const after = f.restart()
    await after.getDatasetGroup('books') // service key described, so the checks below make no KMS call at all

    for (const source of ['attacker', 'books']) {
      await writeFile(file('movies'), await readFile(file(source)))
      const mark = f.kms.engine.auditLog().length
      const err = await after.getDatasetGroup('movies').catch((e: unknown) => e)
      expect(err, source).toBeInstanceOf(DatasetGroupRecordError)
      expect(err).toMatchObject({ reason: 'OTHER_GROUP' })
      expect((err as DatasetGroupRecordError).cause).toBeInstanceOf(EncryptionContextMismatchError)
      expect(f.kms.engine.auditLog().length).toBe(mark)
    }
  })

  it('a record forged under another key (naming another key and role) → TAMPERED; the forged key is never used for data', async () => {
    const created = await f.personalize.createDatasetGroup({
      name: 'movies',
      kmsKeyArn: f.cmk,
      roleArn: ROLE,
    })
    const attackerKey = await f.createKey(keyPolicy([ROLE, NO_DECRYPT_ROLE]))
    // Whoever can write the registry but not use the service key: seals a well-formed record with the
    // group's exact record context, under a key they can use.
    const forger = new Envelope({
      keyring: new KmsKeyring({ client: f.roleClient(ROLE), generatorKeyId: attackerKey }),
      cache: false,
    })
    const forged = await forger.encryptJson(
      {
        version: 1,
        name: 'movies',
        datasetGroupArn: created.datasetGroupArn,
        kmsKeyArn: attackerKey,
        keyOwnership: 'customer-managed',
        roleArn: NO_DECRYPT_ROLE,
        incarnation: '00000000-0000-4000-8000-000000000000',
        creationDateTime: new Date().toISOString(),
      },
      { context: { datasetGroup: created.datasetGroupArn, purpose: 'dataset-group-record' } },
    )
    await writeFile(file('movies'), forged)
    const after = f.restart()
    const mark = f.kms.engine.auditLog().length
    const err = await after.getDatasetGroup('movies').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DatasetGroupRecordError)
    expect(err).toMatchObject({ reason: 'TAMPERED' })
    // Refused from the header alone (the strict service keyring), without sending the forged key to KMS.
    expect(
      f.kms.engine
        .auditLog()
        .slice(mark)
        .filter((e) => e.eventName !== 'DescribeKey'),
    ).toEqual([])
  })

  it('a record the service sealed that does not describe the group → INVALID', async () => {
    await f.personalize.createDatasetGroup({ name: 'movies' })
    const service = new Envelope({
      keyring: new KmsKeyring({
        client: f.kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret' }),
        generatorKeyId: f.serviceKeyArn,
      }),
      cache: false,
    })
    const arn = 'arn:aws:personalize:us-east-1:111122223333:dataset-group/movies'
    const base = {
      version: 1,
      name: 'movies',
      datasetGroupArn: arn,
      kmsKeyArn: f.cmk,
      keyOwnership: 'customer-managed',
      roleArn: ROLE,
      incarnation: '00000000-0000-4000-8000-000000000000',
      creationDateTime: new Date().toISOString(),
    }
    const cases: Record<string, object> = {
      'role of another account': { ...base, roleArn: 'arn:aws:iam::999988887777:role/PersonalizeRole' },
      'service-owned with a customer key': { ...base, keyOwnership: 'service-owned', roleArn: undefined },
      'another name': { ...base, name: 'books' },
      'no incarnation': { ...base, incarnation: '../books' },
    }
    for (const [what, record] of Object.entries(cases)) {
      const sealed = await service.encryptJson(record, {
        context: { datasetGroup: arn, purpose: 'dataset-group-record' },
      })
      await writeFile(file('movies'), sealed)
      await expect(f.restart().getDatasetGroup('movies'), what).rejects.toMatchObject({
        code: 'ERR_DATASET_GROUP_RECORD',
        reason: 'INVALID',
      })
    }
    // Sealed by the service with the exact context, but not JSON at all.
    await writeFile(
      file('movies'),
      await service.encrypt('{not json', { context: { datasetGroup: arn, purpose: 'dataset-group-record' } }),
    )
    const err = await f
      .restart()
      .getDatasetGroup('movies')
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_DATASET_GROUP_RECORD', reason: 'INVALID' })
    expect((err as DatasetGroupRecordError).message).toContain('not JSON')
    expect((err as DatasetGroupRecordError).cause).toBeInstanceOf(SyntaxError)
  })
})

describe('concurrent creation of one name: exactly one wins', () => {
  it('two Personalize objects sharing the registry (and one object twice)', async () => {
    const a = f.restart()
    const b = f.restart()
    const results = await Promise.allSettled([
      a.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE }),
      b.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE }),
      f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE }),
      f.personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE }),
    ])
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(won).toHaveLength(1)
    for (const r of lost) {
      expect(r.reason).toBeInstanceOf(DatasetGroupError)
      expect(r.reason).toMatchObject({ reason: 'ALREADY_EXISTS' })
    }
    expect(await f.registry.list()).toEqual(['movies'])
    // Everybody now sees the winner's group (one store prefix).
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<Personalize['getDatasetGroup']>>>)
      .value
    await winner.importDataset('Users', 'USER_ID\nalice\n')
    for (const p of [a, b, f.personalize]) {
      expect(await text((await p.getDatasetGroup('movies')).readDataset('Users'))).toBe('USER_ID\nalice\n')
    }
  })

  it('racing with different keys: the loser learns the key is taken', async () => {
    const a = f.restart()
    const b = f.restart()
    const results = await Promise.allSettled([
      a.createDatasetGroup({ name: 'movies', kmsKeyArn: f.cmk, roleArn: ROLE }),
      b.createDatasetGroup({ name: 'movies' }),
    ])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!
    expect(lost.reason).toBeInstanceOf(DatasetGroupKeyImmutableError)
  })
})

describe('registries', () => {
  for (const [kind, make] of [
    ['MemoryDatasetGroupRegistry', async () => new MemoryDatasetGroupRegistry()],
    ['FileDatasetGroupRegistry', async () => new FileDatasetGroupRegistry({ directory: join(dir, 'r') })],
  ] as const) {
    it(`${kind}: atomic create (one of 20 concurrent wins), get, list, delete; names differing in case stay apart`, async () => {
      const registry = await make()
      expect(await registry.list()).toEqual([])
      expect(await registry.get('movies')).toBeUndefined()
      const wins = await Promise.all(
        Array.from({ length: 20 }, (_, i) => registry.create('movies', Buffer.from(`record ${i}`))),
      )
      expect(wins.filter(Boolean)).toHaveLength(1)
      const stored = Buffer.from((await registry.get('movies'))!).toString()
      expect(stored).toBe(`record ${wins.indexOf(true)}`)
      expect(await registry.create('Movies', Buffer.from('other'))).toBe(true)
      expect(Buffer.from((await registry.get('Movies'))!).toString()).toBe('other')
      expect(await registry.list()).toEqual(['Movies', 'movies'])
      await registry.delete('movies')
      await registry.delete('movies')
      expect(await registry.list()).toEqual(['Movies'])
      expect(await registry.create('movies', Buffer.from('again'))).toBe(true)
    })
  }

  it('FileDatasetGroupRegistry refuses names that are not dataset group names (nothing else reaches the disk)', async () => {
    const registry = new FileDatasetGroupRegistry({ directory: dir })
    await expect(registry.get('../etc/passwd')).rejects.toMatchObject({ code: 'ERR_CONFIGURATION' })
    await expect(registry.create('a/b', Buffer.from('x'))).rejects.toMatchObject({
      code: 'ERR_CONFIGURATION',
    })
    expect(() => new FileDatasetGroupRegistry({ directory: '' })).toThrow(/needs a directory/)
  })
})
