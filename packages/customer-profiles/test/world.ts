/** Test world: a local KMS with a customer account (owns the keys) and a service account (uses them via grants). */
import { CreateKeyCommand, DisableKeyCommand, type KMSClient, ListGrantsCommand } from '@aws-sdk/client-kms'
import { MemoryKeyStore } from '@kms-envelope/core'
import { LocalKms, type LocalKmsOptions } from '@kms-envelope/local-kms'
import { DomainRecords } from '../src/domain-records.js'
import {
  type DomainRecord,
  MemoryProfileStore,
  ProfileDomains,
  type ProfileDomainsOptions,
} from '../src/index.js'

export const CUSTOMER_ACCOUNT = '111122223333'
export const SERVICE_ACCOUNT = '444455556666'
export const SERVICE_ROLE = `arn:aws:iam::${SERVICE_ACCOUNT}:role/profiles-service`

export interface World {
  readonly kms: LocalKms
  /** The customer's root principal: owns the keys, creates and revokes grants. */
  readonly customer: KMSClient
  /** The service role: no key-policy access to customer keys, only grants. */
  readonly service: KMSClient
  /** The service's own key (in the service account): seals the domain records. */
  readonly serviceKeyArn: string
  readonly store: MemoryProfileStore
  readonly keyStore: MemoryKeyStore
  readonly domains: ProfileDomains
  /** A second service process: its own ProfileDomains over the same stores and service credentials. */
  otherProcess(options?: Partial<ProfileDomainsOptions>): ProfileDomains
  newKey(description?: string, keySpec?: 'SYMMETRIC_DEFAULT' | 'RSA_2048'): Promise<string>
  disable(keyArn: string): Promise<void>
  /** The domain's stored record, opened as the service opens it (a fresh reader: one KMS Decrypt). */
  domainRecord(domainName: string): Promise<DomainRecord | undefined>
  /** The service's live grants on `keyArn`, as the customer lists them. */
  serviceGrants(keyArn: string): Promise<string[]>
  close(): Promise<void>
}

export async function world(
  options: Partial<ProfileDomainsOptions> = {},
  kmsOptions: LocalKmsOptions = {},
): Promise<World> {
  const kms = await LocalKms.create(kmsOptions)
  await kms.engine.createAccount(SERVICE_ACCOUNT, 'service')
  await kms.engine.addAccessKey({
    principalArn: SERVICE_ROLE,
    accessKeyId: 'service',
    secretAccessKey: 'service-secret',
  })
  const customer = kms.client({ maxAttempts: 1 })
  const service = kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret', maxAttempts: 1 })
  const serviceKeyArn = (
    await service.send(new CreateKeyCommand({ Description: 'profiles service key (domain records)' }))
  ).KeyMetadata!.Arn!
  const store = new MemoryProfileStore()
  const keyStore = new MemoryKeyStore()
  const domains = new ProfileDomains({
    kms: service,
    servicePrincipal: SERVICE_ROLE,
    serviceKeyArn,
    store,
    keyStore,
    actor: 'profiles-service',
    ...options,
  })
  return {
    kms,
    customer,
    service,
    serviceKeyArn,
    store,
    keyStore,
    domains,
    otherProcess: (more = {}) =>
      new ProfileDomains({
        kms: service,
        servicePrincipal: SERVICE_ROLE,
        serviceKeyArn,
        store,
        keyStore,
        ...more,
      }),
    async newKey(description = 'customer key', keySpec = 'SYMMETRIC_DEFAULT') {
      const out = await customer.send(
        new CreateKeyCommand({
          Description: description,
          KeySpec: keySpec,
          KeyUsage: keySpec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : 'SIGN_VERIFY',
        }),
      )
      return out.KeyMetadata!.Arn!
    },
    async disable(keyArn) {
      await customer.send(new DisableKeyCommand({ KeyId: keyArn }))
    },
    domainRecord: (domainName) =>
      new DomainRecords({ store, kms: service, serviceKeyArn, serviceAccountId: SERVICE_ACCOUNT }).get(
        domainName,
      ),
    async serviceGrants(keyArn) {
      const out = await customer.send(new ListGrantsCommand({ KeyId: keyArn }))
      return (out.Grants ?? []).filter((g) => g.GranteePrincipal === SERVICE_ROLE).map((g) => g.GrantId!)
    },
    close: () => kms.close(),
  }
}
