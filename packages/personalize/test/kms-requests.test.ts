// The exact KMS requests a dataset group makes, and as whom: asserted on mocked KMS clients.
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
} from '@aws-sdk/client-kms'
import { mockClient } from 'aws-sdk-client-mock'
import { describe, expect, it } from 'vitest'
import { Personalize } from '../src/index.js'

const CMK = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const SERVICE_KEY = 'arn:aws:kms:us-east-1:444455556666:key/0000abcd-12ab-34cd-56ef-1234567890ab'
const ROLE = 'arn:aws:iam::111122223333:role/PersonalizeRole'
const GROUP = 'arn:aws:personalize:us-east-1:111122223333:dataset-group/movies'

function fakeKms(keyArn: string, account: string) {
  const client = new KMSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  })
  const mock = mockClient(client)
  const dataKey = Buffer.alloc(32, 7)
  const blob = Buffer.from('wrapped-data-key')
  mock.on(DescribeKeyCommand).resolves({
    KeyMetadata: {
      Arn: keyArn,
      KeyId: keyArn.split('/')[1]!,
      AWSAccountId: account,
      KeyState: 'Enabled',
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeyManager: 'CUSTOMER',
    },
  })
  // Fresh copies: core zeroizes the plaintext keys it receives.
  mock.on(GenerateDataKeyCommand).callsFake(async () => ({
    Plaintext: Buffer.from(dataKey),
    CiphertextBlob: blob,
    KeyId: keyArn,
  }))
  mock.on(DecryptCommand).callsFake(async () => ({ Plaintext: Buffer.from(dataKey), KeyId: keyArn }))
  return { client, mock, blob }
}

describe('KMS requests', () => {
  it('creation: DescribeKey, GenerateDataKey and Decrypt of the canary, as the role, with the group context', async () => {
    const role = fakeKms(CMK, '111122223333')
    const service = fakeKms(SERVICE_KEY, '444455556666')
    const assumed: string[] = []
    const personalize = new Personalize({
      accountId: '111122223333',
      region: 'us-east-1',
      serviceKms: service.client,
      serviceKeyArn: SERVICE_KEY,
      roleClient: (arn) => {
        assumed.push(arn)
        return role.client
      },
    })
    const group = await personalize.createDatasetGroup({ name: 'movies', kmsKeyArn: CMK, roleArn: ROLE })
    expect(assumed).toEqual([ROLE])
    const check = { datasetGroup: GROUP, dataset: 'key-check' }
    const calls = role.mock.calls().map((c) => [c.args[0].constructor.name, c.args[0].input])
    expect(calls).toEqual([
      ['DescribeKeyCommand', { KeyId: CMK }],
      ['GenerateDataKeyCommand', { KeyId: CMK, KeySpec: 'AES_256', EncryptionContext: check }],
      ['DecryptCommand', { KeyId: CMK, CiphertextBlob: role.blob, EncryptionContext: check }],
    ])

    role.mock.resetHistory()
    await group.importDataset('Interactions', 'USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\n')
    expect(role.mock.commandCalls(GenerateDataKeyCommand).map((c) => c.args[0].input)).toEqual([
      { KeyId: CMK, KeySpec: 'AES_256', EncryptionContext: { datasetGroup: GROUP, dataset: 'Interactions' } },
    ])
    expect(role.mock.commandCalls(EncryptCommand)).toEqual([])
    await group.readDataset('Interactions').toArray()
    expect(role.mock.commandCalls(DecryptCommand).map((c) => c.args[0].input.EncryptionContext)).toEqual([
      { datasetGroup: GROUP, dataset: 'Interactions' },
    ])
    // The service only sealed the group's registry record, under its own key, bound to the group.
    const serviceCalls = service.mock.calls().map((c) => [c.args[0].constructor.name, c.args[0].input])
    expect(serviceCalls).toEqual([
      ['DescribeKeyCommand', { KeyId: SERVICE_KEY }],
      [
        'GenerateDataKeyCommand',
        {
          KeyId: SERVICE_KEY,
          KeySpec: 'AES_256',
          EncryptionContext: { datasetGroup: GROUP, purpose: 'dataset-group-record' },
        },
      ],
    ])
  })

  it('service-owned groups use only the service client; the service key is described once', async () => {
    const service = fakeKms(SERVICE_KEY, '444455556666')
    const personalize = new Personalize({
      accountId: '111122223333',
      region: 'us-east-1',
      serviceKms: service.client,
      serviceKeyArn: SERVICE_KEY,
      roleClient: () => {
        throw new Error('no role expected')
      },
    })
    const a = await personalize.createDatasetGroup({ name: 'a' })
    await personalize.createDatasetGroup({ name: 'b' })
    await a.importDataset('Users', 'USER_ID\nu1\n')
    expect(service.mock.commandCalls(DescribeKeyCommand)).toHaveLength(1)
    const record = (name: string) => ({
      KeyId: SERVICE_KEY,
      KeySpec: 'AES_256',
      EncryptionContext: {
        datasetGroup: `arn:aws:personalize:us-east-1:111122223333:dataset-group/${name}`,
        purpose: 'dataset-group-record',
      },
    })
    expect(service.mock.commandCalls(GenerateDataKeyCommand).map((c) => c.args[0].input)).toEqual([
      record('a'),
      record('b'),
      {
        KeyId: SERVICE_KEY,
        KeySpec: 'AES_256',
        EncryptionContext: {
          datasetGroup: 'arn:aws:personalize:us-east-1:111122223333:dataset-group/a',
          dataset: 'Users',
        },
      },
    ])
  })
})
