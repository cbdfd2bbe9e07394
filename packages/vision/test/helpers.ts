// Test world: a customer account (root, access key `test`) and the vision service's account (role
// `vision-service`, access key `service`), an embedded KMS, a temp storage directory.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateKeyCommand, type CreateKeyCommandInput, type KMSClient } from '@aws-sdk/client-kms'
import { LocalKms } from '@kms-envelope/local-kms'
import { FileStorage, type VisionServiceConfig } from '../src/index.js'

export const CUSTOMER = '111122223333'
export const SERVICE = '444455556666'
export const SERVICE_ROLE = `arn:aws:iam::${SERVICE}:role/vision-service`

export interface World {
  kms: LocalKms
  /** The customer's admin (account root). */
  customer: KMSClient
  /** The vision service's principal. */
  serviceClient: KMSClient
  serviceKeyArn: string
  /** A customer managed key whose policy lets the service use it. */
  customerKeyArn: string
  dir: string
  config: VisionServiceConfig
  newKey(input?: CreateKeyCommandInput, client?: KMSClient): Promise<string>
  close(): Promise<void>
}

export function customerKeyPolicy(allowService: boolean): string {
  const statements: object[] = [
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` }, Action: 'kms:*', Resource: '*' },
  ]
  if (allowService) {
    statements.push({
      Effect: 'Allow',
      Principal: { AWS: SERVICE_ROLE },
      Action: ['kms:DescribeKey', 'kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: '*',
    })
  }
  return JSON.stringify({ Version: '2012-10-17', Statement: statements })
}

export async function world(options: { cache?: false } = {}): Promise<World> {
  const kms = await LocalKms.create({
    seed: {
      region: 'us-east-1',
      accounts: [
        {
          id: CUSTOMER,
          name: 'customer',
          principals: [
            { arn: `arn:aws:iam::${CUSTOMER}:root`, accessKeyId: 'test', secretAccessKey: 'test' },
          ],
        },
        {
          id: SERVICE,
          name: 'vision',
          principals: [{ arn: SERVICE_ROLE, accessKeyId: 'service', secretAccessKey: 'service-secret' }],
        },
      ],
    },
  })
  const customer = kms.client({ maxAttempts: 1 })
  const serviceClient = kms.client({
    accessKeyId: 'service',
    secretAccessKey: 'service-secret',
    maxAttempts: 1,
  })
  const newKey = async (input: CreateKeyCommandInput = {}, client: KMSClient = customer) =>
    (await client.send(new CreateKeyCommand(input))).KeyMetadata!.Arn!
  const serviceKeyArn = await newKey({ Description: 'vision service key' }, serviceClient)
  const customerKeyArn = await newKey({ Description: 'customer key', Policy: customerKeyPolicy(true) })
  const dir = mkdtempSync(join(tmpdir(), 'vision-test-'))
  const config: VisionServiceConfig = {
    kms: serviceClient,
    storage: new FileStorage({ directory: join(dir, 'storage') }),
    serviceKeyArn,
    ...(options.cache === false ? { cache: false as const } : {}),
  }
  return {
    kms,
    customer,
    serviceClient,
    serviceKeyArn,
    customerKeyArn,
    dir,
    config,
    newKey,
    async close() {
      await kms.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
