// DynamoDbKeyStore against a real DynamoDB implementation (dynalite on loopback): the KeyStore contract,
// the table helper, errors.
import { DescribeTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb'
import { KeyStoreError } from '@kms-envelope/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeKeyStoreContract, version } from '../../core/test/scope/key-store-contract.js'
import { describeRewrapOnlyFrom } from '../../core/test/scope/rewrap-only-from-contract.js'
import { createKeyStoreTable, DynamoDbKeyStore } from '../src/index.js'
import { type RunningDynalite, startDynalite } from './start-dynalite.js'

let db: RunningDynalite
let tables = 0
beforeAll(async () => {
  db = await startDynalite()
})
afterAll(async () => {
  await db?.close()
})

async function freshStore(): Promise<DynamoDbKeyStore> {
  const client = db.client()
  const tableName = `scope-keys-${++tables}`
  await createKeyStoreTable(client, tableName)
  return new DynamoDbKeyStore({ client, tableName })
}

describeKeyStoreContract('DynamoDbKeyStore (dynalite)', freshStore)
describeRewrapOnlyFrom('DynamoDbKeyStore (dynalite)', freshStore)

describe('DynamoDbKeyStore specifics', () => {
  it('createKeyStoreTable is idempotent and leaves an ACTIVE table with the pk/sk schema', async () => {
    const client = db.client()
    await createKeyStoreTable(client, 'idem')
    await createKeyStoreTable(client, 'idem')
    const { Table } = await client.send(new DescribeTableCommand({ TableName: 'idem' }))
    expect(Table?.TableStatus).toBe('ACTIVE')
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ])
  })

  it('two clients (as two processes would) racing on one version: one item results', async () => {
    const a = await freshStore()
    const b = new DynamoDbKeyStore({ client: db.client(), tableName: a.tableName })
    const [ra, rb] = await Promise.all([
      a.createVersion(version('race', 1, { wrappedKey: new Uint8Array([1]) })),
      b.createVersion(version('race', 1, { wrappedKey: new Uint8Array([2]) })),
    ])
    expect([ra.created, rb.created].filter(Boolean)).toHaveLength(1)
    expect(ra.record.wrappedKey).toEqual(rb.record.wrappedKey)
  })

  it('a missing table is KeyStoreError UNAVAILABLE naming the remedy', async () => {
    const store = new DynamoDbKeyStore({ client: db.client(), tableName: 'no-such-table' })
    const err = await store.getVersion('x', 1).catch((e) => e)
    expect(err).toBeInstanceOf(KeyStoreError)
    expect(err.reason).toBe('UNAVAILABLE')
    expect(err.message).toContain('createKeyStoreTable')
    expect(err.cause?.name).toBe('ResourceNotFoundException')
  })

  it('a corrupt item is KeyStoreError CORRUPT', async () => {
    const store = await freshStore()
    const client = db.client()
    await client.send(
      new PutItemCommand({
        TableName: store.tableName,
        Item: { pk: { S: 'S#bad' }, sk: { S: 'V#0000000001' }, scopeId: { S: 'bad' }, version: { S: 'one' } },
      }),
    )
    await expect(store.getVersion('bad', 1)).rejects.toMatchObject({
      code: 'ERR_KEY_STORE',
      reason: 'CORRUPT',
    })
  })

  it('lists across pages: scopes, versions and audit events', async () => {
    const first = await freshStore()
    const store = new DynamoDbKeyStore({ client: db.client(), tableName: first.tableName, pageSize: 3 })
    const ids = Array.from({ length: 10 }, (_, i) => `tenant-${String(i).padStart(3, '0')}`)
    await Promise.all(
      ids.map((scopeId) => store.createScope({ scopeId, state: 'active', createdAt: 1, revision: 1 })),
    )
    for (let n = 1; n <= 8; n++) await store.createVersion(version('tenant-001', n))
    for (let at = 1; at <= 7; at++)
      await store.appendAudit({ at, actor: 'a', action: 'rotate', scopeId: ids[at]! })
    expect(await store.listScopes()).toEqual(ids)
    expect((await store.listVersions('tenant-001')).map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect((await store.listAudit()).map((e) => e.at)).toEqual([1, 2, 3, 4, 5, 6, 7])
  })
})
