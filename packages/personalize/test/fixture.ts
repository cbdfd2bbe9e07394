// A local KMS with the accounts of the Personalize story: the customer (root `test`, a service role allowed
// by the key policy, a role that is not, a role without Decrypt) and the service's own account and key.
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms'
import { LocalKms } from '@kms-envelope/local-kms'
import {
  type DatasetGroupRegistry,
  MemoryDatasetGroupRegistry,
  MemoryDatasetStore,
  Personalize,
  type PersonalizeOptions,
} from '../src/index.js'

export const CUSTOMER = '111122223333'
export const SERVICE = '444455556666'
export const ROLE = `arn:aws:iam::${CUSTOMER}:role/PersonalizeRole`
export const NO_ACCESS_ROLE = `arn:aws:iam::${CUSTOMER}:role/OtherRole`
export const NO_DECRYPT_ROLE = `arn:aws:iam::${CUSTOMER}:role/EncryptOnlyRole`
const ACCESS_KEYS: Record<string, string> = {
  [ROLE]: 'personalize-role',
  [NO_ACCESS_ROLE]: 'other-role',
  [NO_DECRYPT_ROLE]: 'encrypt-only-role',
}

/** A key policy: the account may administer the key (no crypto), the listed roles may use it. */
export function keyPolicy(
  users: readonly string[],
  actions: readonly string[] = ['kms:DescribeKey', 'kms:GenerateDataKey', 'kms:Decrypt'],
): string {
  const statements: object[] = [
    {
      Sid: 'Key administrators',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` },
      Action: [
        'kms:CreateAlias',
        'kms:PutKeyPolicy',
        'kms:GetKeyPolicy',
        'kms:EnableKey',
        'kms:DisableKey',
        'kms:ScheduleKeyDeletion',
      ],
      Resource: '*',
    },
  ]
  if (users.length > 0) {
    statements.push({
      Sid: 'Allow use of the key',
      Effect: 'Allow',
      Principal: { AWS: [...users], Service: 'personalize.amazonaws.com' },
      Action: [...actions],
      Resource: '*',
    })
  }
  return JSON.stringify({ Version: '2012-10-17', Statement: statements })
}

export interface Fixture {
  kms: LocalKms
  /** The customer's root (key administration). */
  admin: KMSClient
  serviceKeyArn: string
  store: MemoryDatasetStore
  registry: DatasetGroupRegistry
  personalize: Personalize
  /** A new Personalize (as after a restart): new service client, same store and registry. */
  restart(): Personalize
  /** A customer managed key the service role may use. */
  cmk: string
  createKey(policy: string, extra?: { KeySpec?: 'RSA_2048'; KeyUsage?: 'SIGN_VERIFY' }): Promise<string>
  roleClient(roleArn: string): KMSClient
  close(): Promise<void>
}

export async function fixture(options: Partial<PersonalizeOptions> = {}): Promise<Fixture> {
  const kms = await LocalKms.create()
  for (const [arn, accessKeyId] of Object.entries(ACCESS_KEYS)) {
    await kms.engine.addAccessKey({
      principalArn: arn,
      accessKeyId,
      secretAccessKey: `${accessKeyId}-secret`,
    })
  }
  await kms.engine.createAccount(SERVICE, 'personalize service')
  await kms.engine.addAccessKey({
    principalArn: `arn:aws:iam::${SERVICE}:role/personalize-service`,
    accessKeyId: 'service',
    secretAccessKey: 'service-secret',
  })
  const serviceKms = kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret', maxAttempts: 1 })
  const serviceKey = await serviceKms.send(
    new CreateKeyCommand({ Description: 'Personalize service-owned key' }),
  )
  const admin = kms.client({ maxAttempts: 1 })
  const createKey: Fixture['createKey'] = async (policy, extra = {}) => {
    const { KeyMetadata } = await admin.send(
      new CreateKeyCommand({ Description: 'customer key', Policy: policy, ...extra }),
    )
    return KeyMetadata!.Arn!
  }
  const roleClient = (roleArn: string) => {
    const id = ACCESS_KEYS[roleArn]
    if (!id) throw new Error(`no access key for ${roleArn} in the fixture`)
    return kms.client({ accessKeyId: id, secretAccessKey: `${id}-secret`, maxAttempts: 1 })
  }
  const store = new MemoryDatasetStore()
  const registry = options.registry ?? new MemoryDatasetGroupRegistry()
  const restart = () =>
    new Personalize({
      accountId: CUSTOMER,
      region: kms.region,
      serviceKms: kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret', maxAttempts: 1 }),
      serviceKeyArn: serviceKey.KeyMetadata!.Arn!,
      roleClient,
      store,
      ...options,
      registry,
    })
  const personalize = restart()
  const cmk = await createKey(keyPolicy([ROLE]))
  return {
    kms,
    admin,
    serviceKeyArn: serviceKey.KeyMetadata!.Arn!,
    store,
    registry,
    personalize,
    restart,
    cmk,
    createKey,
    roleClient,
    close: () => kms.close(),
  }
}

export async function text(stream: NodeJS.ReadableStream | AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks).toString('utf8')
}
