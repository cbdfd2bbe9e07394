/**
 * Amazon Personalize style: a dataset group encrypted with a customer managed key that the group's IAM
 * service role must be able to use (checked at creation), CSV imports streamed into it encrypted, read back;
 * a group without a key gets the service-owned key; a role the key policy does not name is refused at
 * creation with an error naming the role, the key and the missing permission. The groups are kept in a
 * file registry of records sealed under the service key: after a "restart" a new Personalize reopens them
 * (same key, role and data), and an edited registry is refused.
 *
 * Run: `npx tsx examples/personalize.ts` (or `npx -y pnpm@10 demo` for every example).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { CreateKeyCommand } from '@aws-sdk/client-kms'
import { inspect } from '@kms-envelope/core'
import { LocalKms } from '@kms-envelope/local-kms'
import {
  DatasetGroupRecordError,
  FileDatasetGroupRegistry,
  MemoryDatasetStore,
  Personalize,
  type PersonalizeOptions,
  RoleKeyAccessDeniedError,
} from '@kms-envelope/personalize'
import { isMain } from './is-main.js'

const CUSTOMER = '111122223333'
const SERVICE = '444455556666'
const ROLE = `arn:aws:iam::${CUSTOMER}:role/PersonalizeRole`
const OTHER_ROLE = `arn:aws:iam::${CUSTOMER}:role/AnalyticsRole`

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const kms = await LocalKms.create()
  const directory = await mkdtemp(join(tmpdir(), 'personalize-groups-'))
  try {
    // 1. Principals: two roles in the customer's account, and the Personalize service in its own account.
    const roles: Record<string, string> = { [ROLE]: 'personalize-role', [OTHER_ROLE]: 'analytics-role' }
    for (const [arn, id] of Object.entries(roles)) {
      await kms.engine.addAccessKey({ principalArn: arn, accessKeyId: id, secretAccessKey: `${id}-secret` })
    }
    await kms.engine.createAccount(SERVICE, 'personalize service')
    await kms.engine.addAccessKey({
      principalArn: `arn:aws:iam::${SERVICE}:role/personalize`,
      accessKeyId: 'service',
      secretAccessKey: 'service-secret',
    })
    const serviceKms = kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret' })
    const serviceKey = (await serviceKms.send(new CreateKeyCommand({ Description: 'service-owned key' })))
      .KeyMetadata!.Arn!

    // 2. The customer's key: the account administers it; only PersonalizeRole may use it (the seed: the
    //    role needs Decrypt — and GenerateDataKey, DescribeKey — in the key policy).
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Key administrators',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` },
          Action: ['kms:PutKeyPolicy', 'kms:GetKeyPolicy', 'kms:EnableKey', 'kms:DisableKey'],
          Resource: '*',
        },
        {
          Sid: 'Allow use of the key',
          Effect: 'Allow',
          Principal: { AWS: ROLE, Service: 'personalize.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
          Resource: '*',
        },
      ],
    }
    const cmk = (
      await kms
        .client()
        .send(new CreateKeyCommand({ Description: 'movies data', Policy: JSON.stringify(policy) }))
    ).KeyMetadata!.Arn!
    log(`customer managed key ${cmk} (usable by ${ROLE})`)

    // 3. The service: acts as the group's role for customer keys (in AWS: STS AssumeRole); keeps the
    //    encrypted imports in a store and the groups' sealed records in a registry (both would be durable).
    const store = new MemoryDatasetStore()
    const options: PersonalizeOptions = {
      accountId: CUSTOMER,
      region: kms.region,
      serviceKms,
      serviceKeyArn: serviceKey,
      roleClient: (roleArn) => {
        const id = roles[roleArn] ?? 'unknown'
        return kms.client({ accessKeyId: id, secretAccessKey: `${id}-secret`, maxAttempts: 1 })
      },
      store,
      registry: new FileDatasetGroupRegistry({ directory }),
    }
    const personalize = new Personalize(options)

    // 4. Create the group: the role describes the key and round-trips a canary before the group exists.
    const movies = await personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: cmk, roleArn: ROLE })
    log(`dataset group ${movies.datasetGroupArn}: ${movies.keyOwnership} key, role ${movies.roleArn}`)

    // 5. Import a CSV (streamed, encrypted, one data key per import) and read it back.
    const csv = [
      'USER_ID,ITEM_ID,TIMESTAMP\n',
      'u1,the-matrix,1700000000\n',
      'u2,amelie,1700000100\n',
      'u1,arrival,1700000200\n',
    ]
    const imported = await movies.importDataset('Interactions', Readable.from(csv), {
      onProgress: (p) => p.done && log(`import progress: ${p.bytes} bytes, ${p.lines} lines, done`),
    })
    const stored = store.get(imported.objectKey)!
    const info = inspect(stored)
    log(`stored ${stored.length} encrypted bytes; context ${JSON.stringify(info.context)}`)
    log(`data key wrapped by ${info.encryptedDataKeys.map((k) => k.keyId).join(', ')}`)
    const back = Buffer.concat(await movies.readDataset('Interactions').toArray()).toString('utf8')
    log(`read back ${back.split('\n').length - 1} lines, identical: ${back === csv.join('')}`)
    const { kms: calls } = movies.stats()
    log(
      `KMS calls for the data (as the role): ${calls.generateDataKey} GenerateDataKey, ${calls.decrypt} Decrypt`,
    )

    // 6. No key given: the service-owned key.
    const books = await personalize.createDatasetGroup({ name: 'books' })
    const item = await books.importDataset('Items', 'ITEM_ID,GENRE\nb1,fiction\n')
    log(
      `group books: ${books.keyOwnership} key ${inspect(store.get(item.objectKey)!).encryptedDataKeys[0]!.keyId}`,
    )

    // 7. A restart: a new Personalize over the same store and registry reopens the groups from their sealed
    //    records (one Decrypt under the service key each), reads the old data, imports more under the CMK.
    const restarted = new Personalize(options)
    log(`after restart: ${(await restarted.listDatasetGroups()).map((g) => g.name).join(', ')}`)
    const reopened = await restarted.getDatasetGroup('movies')
    log(`  movies: ${reopened.keyOwnership} key ${reopened.kmsKeyArn}, role ${reopened.roleArn}`)
    await reopened.importDataset('Interactions', 'u3,dune,1700000300\n', { mode: 'INCREMENTAL' })
    const rows = Buffer.concat(await reopened.readDataset('Interactions').toArray()).toString('utf8')
    log(
      `  read ${rows.split('\n').length - 1} lines (${csv.length} imported before the restart, 1 after, under the same key)`,
    )

    // 8. An edited registry: books' record (service-owned key) copied over movies' is refused, so nobody can
    //    move movies' future imports to another key or role by editing the registry.
    const file = (name: string) => join(directory, `${Buffer.from(name).toString('hex')}.group`)
    const original = await readFile(file('movies'))
    await writeFile(file('movies'), await readFile(file('books')))
    try {
      await new Personalize(options).getDatasetGroup('movies')
    } catch (err) {
      if (!(err instanceof DatasetGroupRecordError)) throw err
      log(`swapped registry record refused: ${err.code} ${err.reason}`)
    }
    await writeFile(file('movies'), original) // the remedy: restore it from a backup

    // 9. A role the key policy does not name: refused at creation, before any data is touched.
    try {
      await personalize.createDatasetGroup({ name: 'analytics', kmsKeyArn: cmk, roleArn: OTHER_ROLE })
    } catch (err) {
      if (!(err instanceof RoleKeyAccessDeniedError)) throw err
      log(`role without access refused: ${err.code} (${err.roleArn} lacks kms:${err.operation})`)
      log(`  ${err.message}`)
    }

    // 10. Delete the group: its encrypted imports and its record go, its cached data keys are wiped.
    await personalize.deleteDatasetGroup('movies')
    log(`deleted movies: ${store.size} object(s) left in the store (the books import)`)
  } finally {
    await kms.close()
    await rm(directory, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) await main()
