// Exact KMS requests (aws-sdk-client-mock): which key and which encryption context reach KMS.
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DescribeKeyCommand, GenerateDataKeyCommand, type KeyMetadata, KMSClient } from '@aws-sdk/client-kms'
import { InvalidKeyError } from '@kms-envelope/core'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FaceCollection, FileStorage, VisionProject } from '../src/index.js'

const SERVICE_KEY = 'arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const CUSTOMER_KEY = 'arn:aws:kms:us-east-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab'

const client = new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
const kms = mockClient(client)
let dir: string

function meta(arn: string, over: Partial<KeyMetadata> = {}): KeyMetadata {
  return {
    Arn: arn,
    KeyId: arn.split('/')[1],
    AWSAccountId: arn.split(':')[4],
    KeyState: 'Enabled',
    Enabled: true,
    KeySpec: 'SYMMETRIC_DEFAULT',
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyManager: 'CUSTOMER',
    ...over,
  }
}

beforeEach(() => {
  kms.reset()
  dir = mkdtempSync(join(tmpdir(), 'vision-mock-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('KMS requests', () => {
  it('an HMAC key is refused after DescribeKey, before any data key is made', async () => {
    kms.on(DescribeKeyCommand).resolves({
      KeyMetadata: meta(CUSTOMER_KEY, { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
    })
    const storage = new FileStorage({ directory: dir })
    const config = { kms: client, storage, serviceKeyArn: SERVICE_KEY }
    const err = await VisionProject.create({ ...config, name: 'p', kmsKeyArn: CUSTOMER_KEY }).catch((e) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect((err as InvalidKeyError).reason).toBe('KEY_SPEC')
    await expect(
      FaceCollection.create({ ...config, collectionId: 'c', dimension: 4, kmsKeyArn: CUSTOMER_KEY }),
    ).rejects.toBeInstanceOf(InvalidKeyError)
    expect(kms.commandCalls(DescribeKeyCommand)[0]!.args[0].input).toEqual({ KeyId: CUSTOMER_KEY })
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(0)
    expect(await storage.list('projects')).toEqual([])
  })

  it('the images of a dataset share one data key under the project key; KMS sees the dataset context', async () => {
    kms.on(DescribeKeyCommand).callsFake((input: { KeyId: string }) => ({ KeyMetadata: meta(input.KeyId) }))
    kms.on(GenerateDataKeyCommand).callsFake((input: { KeyId: string }) => ({
      Plaintext: randomBytes(32),
      CiphertextBlob: randomBytes(64),
      KeyId: input.KeyId,
    }))
    const src = join(dir, 'src')
    mkdirSync(join(src, 'normal'), { recursive: true })
    writeFileSync(join(src, 'normal', 'a.png'), 'a')
    writeFileSync(join(src, 'normal', 'b.png'), 'b')
    const project = await VisionProject.create({
      kms: client,
      storage: new FileStorage({ directory: join(dir, 'store') }),
      serviceKeyArn: SERVICE_KEY,
      grantTokens: ['token-1'],
      name: 'pcb',
      kmsKeyArn: CUSTOMER_KEY,
    })
    await project.importImages(src)
    const inputs = kms.commandCalls(GenerateDataKeyCommand).map((c) => c.args[0].input)
    expect(inputs).toEqual([
      // The project's metadata record, sealed under the service key.
      {
        KeyId: SERVICE_KEY,
        KeySpec: 'AES_256',
        EncryptionContext: { project: 'pcb', object: 'project-record' },
        GrantTokens: ['token-1'],
      },
      {
        KeyId: CUSTOMER_KEY,
        KeySpec: 'AES_256',
        EncryptionContext: { project: 'pcb', object: 'image', dataset: 'train', 'data-key': 'per-dataset' },
        GrantTokens: ['token-1'],
      },
      {
        KeyId: CUSTOMER_KEY,
        KeySpec: 'AES_256',
        EncryptionContext: { project: 'pcb', object: 'manifest', dataset: 'train' },
        GrantTokens: ['token-1'],
      },
    ])
    expect(kms.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input)).toEqual([
      { KeyId: CUSTOMER_KEY, GrantTokens: ['token-1'] },
      { KeyId: SERVICE_KEY, GrantTokens: ['token-1'] },
    ])
  })
})
