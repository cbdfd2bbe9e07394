/**
 * Amazon Personalize style: a dataset group encrypted with a customer managed key that the group's IAM
 * service role must be able to use (checked at creation), CSV imports streamed into it encrypted, read back;
 * a group without a key gets the service-owned key; a role the key policy does not name is refused at
 * creation with an error naming the role, the key and the missing permission.
 *
 * Run: `npx tsx examples/personalize.ts` (or `npx -y pnpm@10 demo` for every example).
 */
import { Readable } from 'node:stream'
import { CreateKeyCommand } from '@aws-sdk/client-kms'
import { inspect } from '@kms-envelope/core'
import { LocalKms } from '@kms-envelope/local-kms'
import { MemoryDatasetStore, Personalize, RoleKeyAccessDeniedError } from '@kms-envelope/personalize'
import { isMain } from './is-main.js'

const CUSTOMER = '111122223333'
const SERVICE = '444455556666'
const ROLE = `arn:aws:iam::${CUSTOMER}:role/PersonalizeRole`
const OTHER_ROLE = `arn:aws:iam::${CUSTOMER}:role/AnalyticsRole`

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const kms = await LocalKms.create()
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

    // 3. The service: acts as the group's role for customer keys (in AWS: STS AssumeRole).
    const store = new MemoryDatasetStore()
    const personalize = new Personalize({
      accountId: CUSTOMER,
      region: kms.region,
      serviceKms,
      serviceKeyArn: serviceKey,
      roleClient: (roleArn) => {
        const id = roles[roleArn] ?? 'unknown'
        return kms.client({ accessKeyId: id, secretAccessKey: `${id}-secret`, maxAttempts: 1 })
      },
      store,
    })

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

    // 7. A role the key policy does not name: refused at creation, before any data is touched.
    try {
      await personalize.createDatasetGroup({ name: 'analytics', kmsKeyArn: cmk, roleArn: OTHER_ROLE })
    } catch (err) {
      if (!(err instanceof RoleKeyAccessDeniedError)) throw err
      log(`role without access refused: ${err.code} (${err.roleArn} lacks kms:${err.operation})`)
      log(`  ${err.message}`)
    }

    // 8. Delete the group: its encrypted imports go, its cached data keys are wiped.
    await personalize.deleteDatasetGroup('movies')
    log(`deleted movies: ${store.size} object(s) left in the store (the books import)`)
  } finally {
    await kms.close()
  }
}

if (isMain(import.meta.url)) await main()
