// Project and collection metadata records sealed under the service key: whoever can write the storage cannot
// point a project or collection at another key. An edited, forged or swapped record is refused with
// VisionRecordError before any data key is made or unwrapped. Against the local KMS.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CreateGrantCommand, DisableKeyCommand } from '@aws-sdk/client-kms'
import {
  EncryptionContextMismatchError,
  Envelope,
  KeyDisabledError,
  KmsKeyring,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FaceCollection, VisionProject, VisionRecordError } from '../src/index.js'
import { recordContext } from '../src/protection.js'
import { customerKeyPolicy, SERVICE_ROLE, type World, world } from './helpers.js'

let w: World
beforeEach(async () => {
  w = await world()
})
afterEach(async () => {
  await w.close()
})

function storagePath(key: string): string {
  return join(w.dir, 'storage', ...key.split('/'))
}

/** The service's KMS calls since `from` (an audit log length), as `Operation@keyArn`. */
function callsSince(from: number): string[] {
  return w.kms.engine
    .auditLog()
    .slice(from)
    .filter((e) => e.userIdentity.arn === SERVICE_ROLE)
    .map((e) => `${e.eventName}@${e.resources[0]?.ARN ?? '-'}`)
}

async function refusal(op: Promise<unknown>, resource: string): Promise<VisionRecordError> {
  const err = await op.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(VisionRecordError)
  expect((err as VisionRecordError).code).toBe('ERR_VISION_RECORD')
  expect((err as VisionRecordError).resource).toBe(resource)
  expect((err as VisionRecordError).message).toMatch(/backup/)
  return err as VisionRecordError
}

describe('metadata records', () => {
  it('are sealed under the service key: the customer key ARN is not in the stored record', async () => {
    await VisionProject.create({ ...w.config, name: 'pcb', kmsKeyArn: w.customerKeyArn })
    const sealed = readFileSync(storagePath('projects/pcb/project.kenv'))
    expect(sealed.toString('latin1')).not.toContain(w.customerKeyArn)
    const opened = await VisionProject.open({ ...w.config, name: 'pcb' })
    expect([opened.keyArn, opened.keyKind]).toEqual([w.customerKeyArn, 'customer-managed'])
  })

  it('cost: create = DescribeKey + GenerateDataKey under the service key; open = Decrypt (the service key validated once per client)', async () => {
    let from = w.kms.engine.auditLog().length
    await VisionProject.create({ ...w.config, name: 'pcb', kmsKeyArn: w.customerKeyArn })
    expect(callsSince(from)).toEqual([
      `DescribeKey@${w.customerKeyArn}`,
      `DescribeKey@${w.serviceKeyArn}`,
      `GenerateDataKey@${w.serviceKeyArn}`,
    ])
    from = w.kms.engine.auditLog().length
    await VisionProject.open({ ...w.config, name: 'pcb' })
    expect(callsSince(from)).toEqual([
      `Decrypt@${w.serviceKeyArn}`,
      `DescribeKey@${w.customerKeyArn}`, // the key the authentic record names, validated again
    ])
    // Under the service key: validated once (above) for the records and the project's key alike.
    await VisionProject.create({ ...w.config, name: 'own' })
    from = w.kms.engine.auditLog().length
    await VisionProject.open({ ...w.config, name: 'own' })
    await VisionProject.open({ ...w.config, name: 'own' })
    expect(callsSince(from)).toEqual([`Decrypt@${w.serviceKeyArn}`, `Decrypt@${w.serviceKeyArn}`])
    // Another KMS client (another process, a restart) validates the service key again, once.
    const kms = w.kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret', maxAttempts: 1 })
    from = w.kms.engine.auditLog().length
    await VisionProject.open({ ...w.config, kms, name: 'own' })
    expect(callsSince(from)).toEqual([`DescribeKey@${w.serviceKeyArn}`, `Decrypt@${w.serviceKeyArn}`])
  })

  it('edited (a byte flipped) → TAMPERED, no data key', async () => {
    const project = await VisionProject.create({ ...w.config, name: 'pcb', kmsKeyArn: w.customerKeyArn })
    await project.saveModel(new Uint8Array([1, 2, 3]))
    const path = storagePath('projects/pcb/project.kenv')
    const sealed = readFileSync(path)
    sealed[sealed.length - 20]! ^= 1
    writeFileSync(path, sealed)
    const from = w.kms.engine.auditLog().length
    const err = await refusal(VisionProject.open({ ...w.config, name: 'pcb' }), 'project pcb')
    expect(err.reason).toBe('TAMPERED')
    expect(err.cause).toBeInstanceOf(TamperedCiphertextError) // the core error that decided
    expect(callsSince(from).filter((c) => !c.endsWith(w.serviceKeyArn))).toEqual([])
  })

  it("forged under the attacker's key (with the service's access, exact context) → TAMPERED, no call on that key", async () => {
    await VisionProject.create({ ...w.config, name: 'pcb', kmsKeyArn: w.customerKeyArn })
    // The attacker's key lets the service use it (policy), and a grant to the role too, for good measure.
    const attackerKey = await w.newKey({ Policy: customerKeyPolicy(true) })
    await w.customer.send(
      new CreateGrantCommand({
        KeyId: attackerKey,
        GranteePrincipal: SERVICE_ROLE,
        Operations: ['Decrypt', 'GenerateDataKey', 'DescribeKey'],
      }),
    )
    const forger = new Envelope({
      keyring: new KmsKeyring({ client: w.customer, generatorKeyId: attackerKey }),
      cache: false,
    })
    const forged = await forger.encryptJson(
      {
        type: 'lookoutvision-project',
        name: 'pcb',
        keyArn: attackerKey,
        keyKind: 'customer-managed',
        createdAt: new Date().toISOString(),
      },
      { context: recordContext({ kind: 'project', id: 'pcb' }) },
    )
    writeFileSync(storagePath('projects/pcb/project.kenv'), forged)
    const from = w.kms.engine.auditLog().length
    const err = await refusal(VisionProject.open({ ...w.config, name: 'pcb' }), 'project pcb')
    expect(err.reason).toBe('TAMPERED')
    expect(err.message).toContain(attackerKey)
    expect(callsSince(from)).toEqual([]) // refused by the strict keyring (the service key validated at create)
  })

  it("swapped with another project's record, or with a collection's → OTHER_RESOURCE before any KMS call on it", async () => {
    await VisionProject.create({ ...w.config, name: 'pcb' })
    await VisionProject.create({ ...w.config, name: 'other', kmsKeyArn: w.customerKeyArn })
    await FaceCollection.create({ ...w.config, collectionId: 'pcb', dimension: 4 })
    const pcb = storagePath('projects/pcb/project.kenv')
    writeFileSync(pcb, readFileSync(storagePath('projects/other/project.kenv')))
    let from = w.kms.engine.auditLog().length
    let err = await refusal(VisionProject.open({ ...w.config, name: 'pcb' }), 'project pcb')
    expect(err.reason).toBe('OTHER_RESOURCE')
    expect(err.message).toContain('project other')
    expect(err.cause).toBeInstanceOf(EncryptionContextMismatchError)
    expect(callsSince(from)).toEqual([])
    // Same name, other kind: the collection "pcb"'s record is not the project "pcb"'s, nor the reverse.
    writeFileSync(pcb, readFileSync(storagePath('collections/pcb/collection.kenv')))
    from = w.kms.engine.auditLog().length
    err = await refusal(VisionProject.open({ ...w.config, name: 'pcb' }), 'project pcb')
    expect(err.reason).toBe('OTHER_RESOURCE')
    expect(callsSince(from)).toEqual([])
    writeFileSync(
      storagePath('collections/pcb/collection.kenv'),
      readFileSync(storagePath('projects/other/project.kenv')),
    )
    err = await refusal(FaceCollection.open({ ...w.config, collectionId: 'pcb' }), 'collection pcb')
    expect(err.reason).toBe('OTHER_RESOURCE')
  })

  it("one of the project's own objects copied over its record → OTHER_RESOURCE", async () => {
    const project = await VisionProject.create({ ...w.config, name: 'pcb' })
    await project.saveModel(new Uint8Array([1, 2, 3]))
    writeFileSync(
      storagePath('projects/pcb/project.kenv'),
      readFileSync(storagePath('projects/pcb/models/1.model.kenv')),
    )
    const err = await refusal(VisionProject.open({ ...w.config, name: 'pcb' }), 'project pcb')
    expect(err.reason).toBe('OTHER_RESOURCE')
  })

  it('sealed by the service for the project but not JSON → INVALID; not a sealed message at all → TAMPERED', async () => {
    await VisionProject.create({ ...w.config, name: 'pcb' })
    const path = storagePath('projects/pcb/project.kenv')
    const service = new Envelope({
      keyring: new KmsKeyring({ client: w.serviceClient, generatorKeyId: w.serviceKeyArn }),
      cache: false,
    })
    writeFileSync(
      path,
      await service.encrypt('{not json', { context: recordContext({ kind: 'project', id: 'pcb' }) }),
    )
    let err = await refusal(VisionProject.open({ ...w.config, name: 'pcb' }), 'project pcb')
    expect(err.reason).toBe('INVALID')
    expect(err.message).toContain('not JSON')
    expect(err.cause).toBeInstanceOf(SyntaxError)
    writeFileSync(path, JSON.stringify({ keyArn: w.customerKeyArn, keyKind: 'customer-managed' }))
    err = await refusal(VisionProject.open({ ...w.config, name: 'pcb' }), 'project pcb')
    expect(err.reason).toBe('TAMPERED')
    expect(err.message).toContain('it is not a kms-envelope message')
  })

  it('a collection record edited → TAMPERED; a disabled service key → KeyDisabledError, not a record error', async () => {
    await FaceCollection.create({ ...w.config, collectionId: 'staff', dimension: 4 })
    const path = storagePath('collections/staff/collection.kenv')
    const genuine = readFileSync(path)
    const edited = Buffer.from(genuine)
    edited[edited.length - 1]! ^= 0x80
    writeFileSync(path, edited)
    const err = await refusal(FaceCollection.open({ ...w.config, collectionId: 'staff' }), 'collection staff')
    expect(err.reason).toBe('TAMPERED')
    writeFileSync(path, genuine)
    expect((await FaceCollection.open({ ...w.config, collectionId: 'staff' })).dimension).toBe(4)
    await w.serviceClient.send(new DisableKeyCommand({ KeyId: w.serviceKeyArn }))
    await expect(FaceCollection.open({ ...w.config, collectionId: 'staff' })).rejects.toBeInstanceOf(
      KeyDisabledError,
    )
  })
})
