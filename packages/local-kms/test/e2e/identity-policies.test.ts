// IAM identity policies seen through the real @aws-sdk/client-kms (in process, SigV4-signed): a role of
// the customer account and a cross-account role use a key whose policy only delegates to IAM; revoking
// the identity policy at run time is an AccessDeniedException with AWS's message.
import {
  CreateKeyCommand,
  DecryptCommand,
  GenerateDataKeyCommand,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalKms, type SeedFile } from '../../src/index.js'
import { CUSTOMER, REGION, SERVICE } from './world.js'

const APP = `arn:aws:iam::${CUSTOMER}:role/app`
const READER = `arn:aws:iam::${SERVICE}:role/reader`
const useKeysOf = (account: string) => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: `arn:aws:kms:${REGION}:${account}:key/*`,
      Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } },
    },
  ],
})

const seed: SeedFile = {
  region: REGION,
  accounts: [
    {
      id: CUSTOMER,
      principals: [
        { arn: `arn:aws:iam::${CUSTOMER}:root`, accessKeyId: 'admin', secretAccessKey: 'admin-s' },
        {
          arn: APP,
          accessKeyId: 'app',
          secretAccessKey: 'app-s',
          policies: [{ name: 'use', document: useKeysOf(CUSTOMER) }],
        },
      ],
    },
    {
      id: SERVICE,
      principals: [
        { arn: READER, accessKeyId: 'reader', secretAccessKey: 'reader-s', policies: [useKeysOf(CUSTOMER)] },
      ],
    },
  ],
}

let kms: LocalKms
let keyArn: string
beforeAll(async () => {
  kms = await LocalKms.create({ seed })
  const admin = kms.client({ accessKeyId: 'admin', secretAccessKey: 'admin-s' })
  const { KeyMetadata } = await admin.send(new CreateKeyCommand({ Description: 'iam' }))
  keyArn = KeyMetadata!.Arn!
  await admin.send(
    new PutKeyPolicyCommand({
      KeyId: keyArn,
      PolicyName: 'default',
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: [`arn:aws:iam::${CUSTOMER}:root`, `arn:aws:iam::${SERVICE}:root`] },
            Action: 'kms:*',
            Resource: '*',
          },
        ],
      }),
    }),
  )
})
afterAll(() => kms.close())

const denial = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  )

describe('identity policies through KMSClient', () => {
  it('allows what the identity policy allows, same account and across accounts, and refuses the rest', async () => {
    const app = kms.client({ accessKeyId: 'app', secretAccessKey: 'app-s', maxAttempts: 1 })
    const reader = kms.client({ accessKeyId: 'reader', secretAccessKey: 'reader-s', maxAttempts: 1 })
    const context = { tenant: 'acme' }
    const dk = await app.send(
      new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: context }),
    )
    const out = await reader.send(
      new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: context }),
    )
    expect(Buffer.from(out.Plaintext!)).toEqual(Buffer.from(dk.Plaintext!))
    const err = await denial(
      reader.send(
        new GenerateDataKeyCommand({
          KeyId: keyArn,
          KeySpec: 'AES_256',
          EncryptionContext: { tenant: 'globex' },
        }),
      ),
    )
    expect((err as Error).name).toBe('AccessDeniedException')
  })

  it('revoking the identity policy at run time refuses the next call with AWS message', async () => {
    const app = kms.client({ accessKeyId: 'app', secretAccessKey: 'app-s', maxAttempts: 1 })
    const context = { tenant: 'acme' }
    const dk = await app.send(
      new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: context }),
    )
    await kms.engine.deletePrincipalPolicy(APP, 'use')
    const err = await denial(
      app.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: context })),
    )
    expect((err as Error).name).toBe('AccessDeniedException')
    expect((err as Error).message).toBe(
      `User: ${APP} is not authorized to perform: kms:Decrypt on resource: ${keyArn} because no identity-based policy allows the kms:Decrypt action`,
    )
    await kms.engine.putPrincipalPolicy(APP, 'use', useKeysOf(CUSTOMER))
    await app.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: context }))
  })
})
