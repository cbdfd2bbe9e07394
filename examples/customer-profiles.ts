/**
 * Amazon Connect Customer Profiles style: each domain's data under the customer's own KMS key (CMK), used
 * by the service only through a KMS grant it creates; an object type with its own key; a key switch on
 * existing data (the old key is then not needed); and what happens when the customer revokes the grant or
 * disables a key; and a domain record edited in the store (to name another key) that the service refuses.
 *
 * Two accounts in one local KMS: the customer (111122223333) owns the keys; the service role
 * (444455556666) has no key-policy access to them, only the grants.
 *
 * Run: `npx tsx examples/customer-profiles.ts` (or `npx -y pnpm@10 demo` for every example).
 */
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  RevokeGrantCommand,
} from '@aws-sdk/client-kms'
import {
  Envelope,
  inspect,
  KeyAccessDeniedError,
  KeyDisabledError,
  KmsEnvelopeError,
  KmsKeyring,
} from '@kms-envelope/core'
import { DomainRecordError, MemoryProfileStore, ProfileDomains } from '@kms-envelope/customer-profiles'
import { LocalKms } from '@kms-envelope/local-kms'
import { isMain } from './is-main.js'

const SERVICE_ROLE = 'arn:aws:iam::444455556666:role/profiles-service'

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const kms = await LocalKms.create()
  try {
    await kms.engine.createAccount('444455556666', 'service')
    await kms.engine.addAccessKey({
      principalArn: SERVICE_ROLE,
      accessKeyId: 'svc',
      secretAccessKey: 'svc-secret',
    })
    const customer = kms.client() // the customer's account root: owns the keys
    const service = kms.client({ accessKeyId: 'svc', secretAccessKey: 'svc-secret', maxAttempts: 1 })
    const newKey = async (Description: string) =>
      (await customer.send(new CreateKeyCommand({ Description }))).KeyMetadata!.Arn!
    const short = (arn: string) => `…${arn.slice(-12)}`
    // The service's own key (in its account): it seals each domain record in the store.
    const serviceKeyArn = (await service.send(new CreateKeyCommand({ Description: 'profiles service key' })))
      .KeyMetadata!.Arn!
    const serviceCalls = () => {
      const data: Record<string, number> = {}
      const records: Record<string, number> = {}
      for (const e of kms.engine.auditLog()) {
        if (e.userIdentity.arn !== SERVICE_ROLE || e.eventName === 'CreateKey') continue
        const counts = e.resources[0]?.ARN === serviceKeyArn ? records : data
        counts[e.eventName] = (counts[e.eventName] ?? 0) + 1
      }
      return `${JSON.stringify(data)} on customer keys, ${JSON.stringify(records)} on the service key (domain record)`
    }

    // 1. The customer creates two keys; the service creates the domain with them. The customer's own
    //    credentials (customerKms) describe the keys and create the grants, as the CreateDomain caller does in AWS.
    const domainKey = await newKey('retail profiles')
    const ordersKey = await newKey('retail orders')
    const store = new MemoryProfileStore() // your ProfileStore (DynamoDB, S3, SQL) in production
    const domains = new ProfileDomains({
      kms: service,
      servicePrincipal: SERVICE_ROLE,
      serviceKeyArn,
      store,
      actor: 'profiles-service',
    })
    const created = await domains.createDomain({
      domainName: 'retail-eu',
      defaultKeyArn: domainKey,
      objectTypeKeys: { _order: ordersKey },
      customerKms: customer,
    })
    log(`domain retail-eu: default key ${short(domainKey)}, _order key ${short(ordersKey)}`)
    for (const g of created.grants) {
      log(
        `  grant ${g.grantId.slice(0, 12)}… on ${short(g.keyArn)} to ${SERVICE_ROLE}: Decrypt, GenerateDataKey*, ReEncrypt* where context ⊇ {customer-profiles:domain: retail-eu} (+ a DescribeKey grant)`,
      )
    }

    // 2. Profiles and orders: JSON, encrypted with context {domain, object type, object id}; one cached
    //    data key per (domain, object type), whatever the number of ids.
    const retail = await domains.domain('retail-eu')
    for (let i = 0; i < 100; i++) {
      await retail.putObject('_profile', `p-${i}`, { firstName: `Customer ${i}`, email: `c${i}@example.com` })
    }
    for (let i = 0; i < 20; i++)
      await retail.putObject('_order', `o-${i}`, { total: 10 + i, profile: `p-${i}` })
    const p7 = await retail.getObject<{ email: string }>('_profile', 'p-7')
    log(
      `stored 100 profiles and 20 orders; p-7 reads back: ${p7?.email}; service KMS calls: ${serviceCalls()}`,
    )
    const p7Stored = (await store.getObject('retail-eu', '_profile', 'p-7'))!
    log(`  p-7's context (inspect, no key needed): ${JSON.stringify(inspect(p7Stored.ciphertext).context)}`)
    // Someone with write access to the store copies p-7's ciphertext over p-8: refused before any KMS call.
    const p8Stored = (await store.getObject('retail-eu', '_profile', 'p-8'))!
    await store.putObject('retail-eu', { ...p7Stored, objectId: 'p-8' })
    await retail.purge() // a cold cache, so a KMS call would show
    const before = kms.engine.auditLog().length
    const copied = await retail.getObject('_profile', 'p-8').catch((e: unknown) => e)
    if (!(copied instanceof KmsEnvelopeError)) throw new Error('expected the copied object to be refused')
    log(
      `  p-7 copied over p-8 -> ${copied.name} ${copied.code} (${kms.engine.auditLog().length - before} KMS calls)`,
    )
    await store.putObject('retail-eu', p8Stored)

    // 3. The customer switches the domain's key: scope keys are re-wrapped with ReEncrypt, the data is untouched.
    const replacement = await newKey('retail profiles 2026')
    const switched = await domains.switchKey({
      domainName: 'retail-eu',
      keyArn: replacement,
      customerKms: customer,
    })
    const versions = switched.scopes.reduce((n, s) => n + s.rewrapped.length, 0)
    log(
      `switched default key ${short(switched.fromKeyArn)} -> ${short(switched.toKeyArn)}: ${versions} scope key version(s) re-wrapped, ${switched.retiredGrantIds.length} old grants retired; _order keeps ${short(ordersKey)}`,
    )
    await customer.send(new DisableKeyCommand({ KeyId: domainKey }))
    await retail.purge() // forget cached keys: the next reads ask KMS
    let readable = 0
    for (let i = 0; i < 100; i++) if (await retail.getObject('_profile', `p-${i}`)) readable++
    log(`old key disabled: ${readable}/100 profiles still readable (the old key is no longer needed)`)
    log(`service KMS calls so far: ${serviceCalls()}`)

    // 4. The customer revokes the service's grant on the new key: the profiles become unreadable.
    const grant = (await domains.describeDomain('retail-eu')).grants.find((g) => g.keyArn === replacement)!
    await customer.send(new RevokeGrantCommand({ KeyId: replacement, GrantId: grant.grantId }))
    await retail.purge()
    try {
      await retail.getObject('_profile', 'p-7')
      throw new Error('expected the read to fail')
    } catch (err) {
      if (!(err instanceof KeyAccessDeniedError)) throw err
      log(`grant revoked -> ${err.name} ${err.code}: ${err.message.slice(0, 260)}…`)
    }
    const order = await retail.getObject<{ total: number }>('_order', 'o-3')
    log(`orders are under their own key and grant: o-3 still reads (total ${order?.total})`)

    // 5. The customer disables the orders key: the orders become unreadable too.
    await customer.send(new DisableKeyCommand({ KeyId: ordersKey }))
    await retail.purge()
    const disabled = await retail.getObject('_order', 'o-3').catch((e: unknown) => e)
    if (!(disabled instanceof KeyDisabledError)) throw new Error('expected the read to fail')
    log(`orders key disabled -> ${disabled.name} ${disabled.code}: ${disabled.message.slice(0, 160)}…`)

    // 6. Someone with write access to the store (not to the service key) writes a domain record of their
    //    own, exact context and all, naming a key they control and granted to the service role: refused.
    const stored = (await store.getDomain('retail-eu'))!
    log(
      `stored domain record: revision ${stored.revision}, ${stored.sealed.length} bytes sealed under ${short(inspect(stored.sealed).encryptedDataKeys[0]!.keyId)} (the service key), context ${JSON.stringify(inspect(stored.sealed).context)}`,
    )
    const theirKey = await newKey('not the customer')
    await customer.send(
      new CreateGrantCommand({
        KeyId: theirKey,
        GranteePrincipal: SERVICE_ROLE,
        Operations: ['Decrypt', 'GenerateDataKey', 'DescribeKey'],
      }),
    )
    const forger = new Envelope({
      keyring: new KmsKeyring({ client: customer, generatorKeyId: theirKey }),
      cache: false,
    })
    const revision = stored.revision + 1
    const forged = await forger.encryptJson(
      { domainName: 'retail-eu', defaultKeyArn: theirKey, revision },
      { context: { ...inspect(stored.sealed).context, 'customer-profiles:revision': String(revision) } },
    )
    await store.putDomain({ domainName: 'retail-eu', revision, sealed: forged }, stored.revision)
    await retail.purge()
    const calls = kms.engine.auditLog().length
    const refused = await retail.putObject('_case', 'c-1', { note: 'new type' }).catch((e: unknown) => e)
    if (!(refused instanceof DomainRecordError)) throw new Error('expected the forged record to be refused')
    const used = kms.engine
      .auditLog()
      .slice(calls)
      .filter((e) => e.userIdentity.arn === SERVICE_ROLE).length
    log(
      `forged domain record -> ${refused.name} ${refused.code} (${refused.reason}), ${used} KMS calls: ${refused.message.slice(0, 150)}…`,
    )
  } finally {
    await kms.close()
  }
}

if (isMain(import.meta.url)) await main()
