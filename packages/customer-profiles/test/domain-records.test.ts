/**
 * Domain records sealed under the service key: whoever can write the ProfileStore cannot choose a
 * domain's keys. An edited, forged, swapped or replayed record is refused with DomainRecordError before the
 * service makes or unwraps any data key with what it names; a rollback is caught by a process that has seen
 * a newer record. Against the local KMS.
 */
import { CreateGrantCommand, DisableKeyCommand, EnableKeyCommand } from '@aws-sdk/client-kms'
import {
  EncryptionContextMismatchError,
  Envelope,
  inspect,
  KeyAccessDeniedError,
  KeyDisabledError,
  KmsKeyring,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  PURPOSE_CONTEXT_KEY,
  RECORD_PURPOSE,
  REVISION_CONTEXT_KEY,
  recordContext,
} from '../src/domain-records.js'
import { DOMAIN_CONTEXT_KEY, type DomainRecord, DomainRecordError } from '../src/index.js'
import { SERVICE_ROLE, type World, world } from './world.js'

const profile = { firstName: 'Ana', email: 'ana@example.com' }

let w: World
let keyArn: string
beforeEach(async () => {
  w = await world()
  keyArn = await w.newKey('retail-eu')
  await w.domains.createDomain({ domainName: 'retail-eu', defaultKeyArn: keyArn, customerKms: w.customer })
  await (await w.domains.domain('retail-eu')).putObject('_profile', 'p-1', profile)
})
afterEach(async () => {
  await w.close()
})

/** The service's KMS calls since `from` (an audit log length), as `eventName@keyArn`. */
function serviceCallsSince(from: number): string[] {
  return w.kms.engine
    .auditLog()
    .slice(from)
    .filter((e) => e.userIdentity.arn === SERVICE_ROLE)
    .map((e) => `${e.eventName}@${e.resources[0]?.ARN ?? '-'}`)
}

/** The service's data-key calls (on any key but its own) since `from`. */
function dataKeyCallsSince(from: number): string[] {
  return serviceCallsSince(from).filter((c) => !c.endsWith(`@${w.serviceKeyArn}`))
}

async function refusal(op: Promise<unknown>): Promise<DomainRecordError> {
  const err = await op.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(DomainRecordError)
  expect((err as DomainRecordError).code).toBe('ERR_DOMAIN_RECORD')
  expect((err as DomainRecordError).domainName).toBe('retail-eu')
  expect((err as DomainRecordError).message).toMatch(/backup/)
  return err as DomainRecordError
}

describe('the stored domain record', () => {
  it('is sealed under the service key: no key ARN, grant or token in the store', async () => {
    const stored = (await w.store.getDomain('retail-eu'))!
    expect(stored.revision).toBe(1)
    const text = Buffer.from(stored.sealed).toString('latin1')
    expect(text).not.toContain(keyArn)
    const info = inspect(stored.sealed)
    expect(info.encryptedDataKeys.map((k) => k.keyId)).toEqual([w.serviceKeyArn])
    expect(info.context).toEqual({
      [DOMAIN_CONTEXT_KEY]: 'retail-eu',
      [PURPOSE_CONTEXT_KEY]: RECORD_PURPOSE,
      [REVISION_CONTEXT_KEY]: '1',
    })
    // KMS bound the same context when it made the record's data key.
    const seal = w.kms.engine
      .auditLog()
      .find((e) => e.eventName === 'GenerateDataKey' && e.resources[0]?.ARN === w.serviceKeyArn)
    expect(seal?.requestParameters.encryptionContext).toEqual(info.context)
  })

  it('edited (a byte flipped, or replaced by plain JSON) → TAMPERED, no data key made or unwrapped', async () => {
    const stored = (await w.store.getDomain('retail-eu'))!
    const flipped = Uint8Array.from(stored.sealed)
    flipped[flipped.length - 20]! ^= 1
    await w.store.putDomain({ ...stored, sealed: flipped }, 1)
    const from = w.kms.engine.auditLog().length
    const cold = w.otherProcess({ cache: false })
    const edited = await refusal(cold.domain('retail-eu'))
    expect(edited.reason).toBe('TAMPERED')
    expect(edited.cause).toBeInstanceOf(TamperedCiphertextError) // the core error that decided
    // The process that wrote the record reads it again on its next data key: same revision, other bytes,
    // so it is opened again, and refused.
    const writer = await w.domains.domain('retail-eu')
    await writer.purge()
    expect((await refusal(writer.putObject('_profile', 'p-2', profile))).reason).toBe('TAMPERED')
    expect(dataKeyCallsSince(from)).toEqual([])

    // An attacker's own record in plain JSON (naming a key they control) is not a sealed record at all.
    const attackerKey = await w.newKey('attacker')
    const forged = { domainName: 'retail-eu', defaultKeyArn: attackerKey, revision: 1 }
    await w.store.putDomain({ ...stored, sealed: Buffer.from(JSON.stringify(forged)) }, 1)
    const err = await refusal(w.otherProcess().describeDomain('retail-eu'))
    expect(err.reason).toBe('TAMPERED')
    expect(err.message).toContain('it is not a kms-envelope message')
    expect(dataKeyCallsSince(from)).toEqual([])
  })

  it("forged under the attacker's key (granted to the service role) → TAMPERED before any KMS call on it", async () => {
    const attackerKey = await w.newKey('attacker')
    await w.customer.send(
      new CreateGrantCommand({
        KeyId: attackerKey,
        GranteePrincipal: SERVICE_ROLE,
        Operations: ['Decrypt', 'GenerateDataKey', 'DescribeKey'],
      }),
    )
    const genuine = (await w.domainRecord('retail-eu'))!
    // A well-formed record, exact context and all, that sends new data to the attacker's key.
    const record: DomainRecord = {
      ...genuine,
      defaultKeyArn: attackerKey,
      grants: { ...genuine.grants, [attackerKey]: { ...genuine.grants[keyArn]!, keyArn: attackerKey } },
      revision: 2,
    }
    const attacker = new Envelope({
      keyring: new KmsKeyring({ client: w.customer, generatorKeyId: attackerKey }),
      cache: false,
    })
    const sealed = await attacker.encryptJson(record, { context: recordContext('retail-eu', 2) })
    expect(await w.store.putDomain({ domainName: 'retail-eu', revision: 2, sealed }, 1)).toBe(true)

    const from = w.kms.engine.auditLog().length
    const err = await refusal(w.otherProcess().domain('retail-eu'))
    expect(err.reason).toBe('TAMPERED')
    expect(err.message).toContain(attackerKey)
    // The running process, on its next data key (cache purged): refused too, nothing under the attacker key.
    const retail = await w.domains.domain('retail-eu')
    await retail.purge()
    expect((await refusal(retail.putObject('_profile', 'p-2', profile))).reason).toBe('TAMPERED')
    expect(serviceCallsSince(from).filter((c) => c.endsWith(`@${attackerKey}`))).toEqual([])
    expect(dataKeyCallsSince(from)).toEqual([])
    expect(await w.keyStore.listVersions('retail-eu/_profile')).toHaveLength(1)
  })

  it('sealed by the service for the domain but not JSON → INVALID, no data key', async () => {
    const service = new Envelope({
      keyring: new KmsKeyring({ client: w.service, generatorKeyId: w.serviceKeyArn }),
      cache: false,
    })
    const sealed = await service.encrypt('{not json', { context: recordContext('retail-eu', 2) })
    expect(await w.store.putDomain({ domainName: 'retail-eu', revision: 2, sealed }, 1)).toBe(true)
    const from = w.kms.engine.auditLog().length
    const err = await refusal(w.otherProcess().describeDomain('retail-eu'))
    expect(err.reason).toBe('INVALID')
    expect(err.message).toContain('not JSON')
    expect(err.cause).toBeInstanceOf(SyntaxError)
    expect(dataKeyCallsSince(from)).toEqual([])
  })

  it("swapped with another domain's record → OTHER_DOMAIN before any KMS call", async () => {
    const usKey = await w.newKey('retail-us')
    await w.domains.createDomain({ domainName: 'retail-us', defaultKeyArn: usKey, customerKms: w.customer })
    const us = (await w.store.getDomain('retail-us'))!
    await w.store.putDomain({ ...us, domainName: 'retail-eu' }, 1)
    const process = w.otherProcess()
    await process.describeDomain('retail-us') // its service key is validated: only the swap remains to see
    const from = w.kms.engine.auditLog().length
    const err = await refusal(process.domain('retail-eu'))
    expect(err.reason).toBe('OTHER_DOMAIN')
    expect(err.message).toContain('retail-us')
    expect(err.cause).toBeInstanceOf(EncryptionContextMismatchError)
    expect(serviceCallsSince(from)).toEqual([])
  })

  it('an older record put back under a newer revision number → OTHER_REVISION before any KMS call', async () => {
    const first = (await w.store.getDomain('retail-eu'))!
    const newKey = await w.newKey('new')
    await w.domains.switchKey({ domainName: 'retail-eu', keyArn: newKey, customerKms: w.customer })
    const latest = (await w.store.getDomain('retail-eu'))!
    expect(latest.revision).toBe(3)
    // Revision 1's sealed body (old key), stored as revision 3 (what compare-and-set compares).
    await w.store.putDomain({ ...first, revision: 3 }, 3)
    const from = w.kms.engine.auditLog().length
    const err = await refusal(w.domains.describeDomain('retail-eu'))
    expect(err.reason).toBe('OTHER_REVISION')
    expect(err.message).toContain('sealed as revision 1, stored as revision 3')
    expect(err.cause).toBeInstanceOf(EncryptionContextMismatchError)
    expect(serviceCallsSince(from)).toEqual([])
  })

  it('rolled back to an older genuine record: refused by a process that saw a newer one', async () => {
    const first = (await w.store.getDomain('retail-eu'))!
    const newKey = await w.newKey('new')
    const other = w.otherProcess()
    await other.describeDomain('retail-eu') // sees revision 1 only
    await w.domains.switchKey({ domainName: 'retail-eu', keyArn: newKey, customerKms: w.customer })
    const retail = await w.domains.domain('retail-eu')
    await retail.putObject('_case', 'c-1', { note: 'under the new key' })
    // The store is put back to revision 1 (its genuine sealed record, naming the old key).
    await w.store.deleteDomain('retail-eu')
    await w.store.putDomain(first, undefined)

    // The process that wrote revision 3: every read of the record refuses the rollback.
    expect((await refusal(w.domains.describeDomain('retail-eu'))).reason).toBe('ROLLED_BACK')
    await retail.purge()
    const from = w.kms.engine.auditLog().length
    expect((await refusal(retail.putObject('_new', 'n-1', profile))).reason).toBe('ROLLED_BACK')
    expect(dataKeyCallsSince(from)).toEqual([])
    expect(
      (
        await refusal(
          w.domains.switchKey({ domainName: 'retail-eu', keyArn: newKey, customerKms: w.customer }),
        )
      ).reason,
    ).toBe('ROLLED_BACK')

    // A process that never saw a newer revision cannot tell (the stated limit): it accepts revision 1, but
    // the old key's grants were retired by the switch, so KMS refuses new data under it.
    const fresh = await other.domain('retail-eu')
    expect(await fresh.keyFor('_new')).toBe(keyArn)
    await expect(fresh.putObject('_new', 'n-1', profile)).rejects.toBeInstanceOf(KeyAccessDeniedError)
  })

  it('a domain deleted and created again (same generation) is not taken for a rollback', async () => {
    await w.close()
    w = await world()
    keyArn = await w.newKey('retail-eu')
    const other = w.otherProcess()
    await w.domains.createDomain({ domainName: 'retail-eu', defaultKeyArn: keyArn, customerKms: w.customer })
    const newKey = await w.newKey('new')
    await w.domains.switchKey({ domainName: 'retail-eu', keyArn: newKey, customerKms: w.customer })
    expect((await other.describeDomain('retail-eu')).defaultKeyArn).toBe(newKey) // other saw revision 3
    await w.domains.deleteDomain('retail-eu') // no object was written: no scope, so generation 1 again
    await w.domains.createDomain({ domainName: 'retail-eu', defaultKeyArn: keyArn, customerKms: w.customer })
    expect((await w.store.getDomain('retail-eu'))!.revision).toBe(1)
    expect((await other.describeDomain('retail-eu')).defaultKeyArn).toBe(keyArn)
    await (await other.domain('retail-eu')).putObject('_profile', 'p-1', profile)
  })
})

describe('cost: one Decrypt under the service key per record a process has not opened yet', () => {
  it('opening, writing, and reloading after another process switched keys', async () => {
    const from = w.kms.engine.auditLog().length
    const process = w.otherProcess()
    const retail = await process.domain('retail-eu')
    for (let i = 0; i < 20; i++) await retail.putObject(i % 2 ? '_profile' : '_order', `x-${i}`, { i })
    await retail.purge() // cache misses: the write path checks the record again (same bytes: no KMS call)
    await retail.putObject('_profile', 'x-20', { i: 20 })
    const record = (c: string) => c.endsWith(`@${w.serviceKeyArn}`)
    expect(serviceCallsSince(from).filter(record)).toEqual([
      `DescribeKey@${w.serviceKeyArn}`, // the service key, validated once per ProfileDomains
      `Decrypt@${w.serviceKeyArn}`, // the record, opened once
    ])
    // Another process switches the key (two record writes); this one reloads and opens the new record once.
    const newKey = await w.newKey('new')
    await w.domains.switchKey({ domainName: 'retail-eu', keyArn: newKey, customerKms: w.customer })
    const before = w.kms.engine.auditLog().length
    await retail.purge()
    await retail.putObject('_profile', 'x-21', { i: 21 })
    expect(serviceCallsSince(before).filter(record)).toEqual([`Decrypt@${w.serviceKeyArn}`])
    expect(await retail.keyFor('_profile')).toBe(newKey)
  })

  it('a disabled service key fails with KeyDisabledError (not a record error), and works again once enabled', async () => {
    await w.service.send(new DisableKeyCommand({ KeyId: w.serviceKeyArn }))
    const process = w.otherProcess()
    const err = await process.domain('retail-eu').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect(err).not.toBeInstanceOf(DomainRecordError)
    await w.service.send(new EnableKeyCommand({ KeyId: w.serviceKeyArn }))
    expect(await (await process.domain('retail-eu')).getObject('_profile', 'p-1')).toEqual(profile)
  })
})
