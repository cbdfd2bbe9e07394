// A world where IAM identity policies matter: principals with policies, with `policies: []`, and without
// the field (the implicit allow-all default), in a key account A and a caller account B.
import type { SeedFile } from '../../src/engine/index.js'
import { A, B } from './helpers.js'

export const REGION = 'us-east-1'
export const ROLE_APP = `arn:aws:iam::${A}:role/app`
export const USER_NOBODY = `arn:aws:iam::${A}:user/nobody`
export const USER_LEGACY = `arn:aws:iam::${A}:user/legacy`
export const ROLE_TENANT = `arn:aws:iam::${A}:role/tenant-acme`
export const ROLE_VIA = `arn:aws:iam::${A}:role/via-profile`
export const ROLE_NOVIA = `arn:aws:iam::${A}:role/direct`
export const ROLE_B = `arn:aws:iam::${B}:role/reader`
export const USER_B_NOBODY = `arn:aws:iam::${B}:user/nobody`
export const USER_B_LEGACY = `arn:aws:iam::${B}:user/legacy`
export const VIA = 'profile.us-east-1.amazonaws.com'

export const doc = (...statements: object[]) => ({ Version: '2012-10-17', Statement: statements })

/** app: use every key of A (Encrypt, Decrypt, kms:Generate*), list things, create aliases named alias/app-*. */
export const APP_POLICY = doc(
  {
    Sid: 'use',
    Effect: 'Allow',
    Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:Generate*', 'kms:DescribeKey'],
    Resource: `arn:aws:kms:${REGION}:${A}:key/*`,
  },
  { Sid: 'list', Effect: 'Allow', Action: 'kms:List*', Resource: '*' },
  {
    Sid: 'aliases',
    Effect: 'Allow',
    Action: 'kms:CreateAlias',
    Resource: [`arn:aws:kms:${REGION}:${A}:alias/app-*`, `arn:aws:kms:${REGION}:${A}:key/*`],
  },
)

const tenantOnly = doc({
  Effect: 'Allow',
  Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
  Resource: '*',
  Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } },
})

const viaOnly = doc({
  Effect: 'Allow',
  Action: 'kms:Encrypt',
  Resource: '*',
  Condition: { StringEquals: { 'kms:ViaService': VIA } },
})

/** reader (account B): Encrypt / Decrypt / DescribeKey on A's keys only. */
export const READER_POLICY = doc({
  Effect: 'Allow',
  Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey'],
  Resource: `arn:aws:kms:${REGION}:${A}:key/*`,
})

export const identitySeed: SeedFile = {
  region: REGION,
  accounts: [
    {
      id: A,
      principals: [
        { arn: `arn:aws:iam::${A}:root`, accessKeyId: 'root', secretAccessKey: 's' },
        {
          arn: ROLE_APP,
          accessKeyId: 'app',
          secretAccessKey: 's',
          policies: [{ name: 'app', document: APP_POLICY }],
        },
        { arn: USER_NOBODY, accessKeyId: 'nobody', secretAccessKey: 's', policies: [] },
        { arn: USER_LEGACY, accessKeyId: 'legacy', secretAccessKey: 's' },
        { arn: ROLE_TENANT, accessKeyId: 'tenant', secretAccessKey: 's', policies: [tenantOnly] },
        { arn: ROLE_VIA, accessKeyId: 'via', secretAccessKey: 's', viaService: VIA, policies: [viaOnly] },
        { arn: ROLE_NOVIA, accessKeyId: 'novia', secretAccessKey: 's', policies: [JSON.stringify(viaOnly)] },
      ],
    },
    {
      id: B,
      principals: [
        { arn: ROLE_B, accessKeyId: 'reader', secretAccessKey: 's', policies: [READER_POLICY] },
        { arn: USER_B_NOBODY, accessKeyId: 'bnobody', secretAccessKey: 's', policies: [] },
        { arn: USER_B_LEGACY, accessKeyId: 'blegacy', secretAccessKey: 's' },
      ],
    },
  ],
}
