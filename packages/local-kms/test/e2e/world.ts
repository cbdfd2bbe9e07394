// The known world the e2e suites start from: a customer account, a service account (whose role calls
// through a service, kms:ViaService), and an unrelated account.
import type { SeedFile } from '../../src/index.js'

export const CUSTOMER = '111122223333'
export const SERVICE = '444455556666'
export const OTHER = '777788889999'
export const REGION = 'us-east-1'
export const SEEDED_KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab'
export const SEEDED_KEY_ARN = `arn:aws:kms:${REGION}:${CUSTOMER}:key/${SEEDED_KEY_ID}`
export const APP_ROLE = `arn:aws:iam::${CUSTOMER}:role/app`
export const SERVICE_ROLE = `arn:aws:iam::${SERVICE}:role/profiles-service`
export const VIA_SERVICE = `profile.${REGION}.amazonaws.com`

/** Access keys of the seeded principals. */
export const CREDENTIALS = {
  admin: { accessKeyId: 'test', secretAccessKey: 'test' },
  app: { accessKeyId: 'app', secretAccessKey: 'app-secret' },
  service: { accessKeyId: 'service', secretAccessKey: 'service-secret' },
  other: { accessKeyId: 'mallory', secretAccessKey: 'mallory-secret' },
} as const

export type Who = keyof typeof CREDENTIALS

export const SEED: SeedFile = {
  region: REGION,
  accounts: [
    {
      id: CUSTOMER,
      name: 'customer',
      principals: [
        { arn: `arn:aws:iam::${CUSTOMER}:root`, ...CREDENTIALS.admin },
        { arn: APP_ROLE, ...CREDENTIALS.app },
      ],
    },
    {
      id: SERVICE,
      name: 'service',
      principals: [{ arn: SERVICE_ROLE, ...CREDENTIALS.service, viaService: VIA_SERVICE }],
    },
    {
      id: OTHER,
      name: 'other',
      principals: [{ arn: `arn:aws:iam::${OTHER}:user/mallory`, ...CREDENTIALS.other }],
    },
  ],
  keys: [{ account: CUSTOMER, keyId: SEEDED_KEY_ID, description: 'seeded key', tags: { team: 'payments' } }],
  aliases: [{ account: CUSTOMER, name: 'alias/seeded', targetKeyId: SEEDED_KEY_ID }],
}
